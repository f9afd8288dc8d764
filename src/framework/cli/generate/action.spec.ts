import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planAdminAction } from 'src/framework/cli/generate/action';
import { APP_DIR, importPathOf } from 'src/framework/cli/generate/project';

/** An import of an app file, as the fake project's code would write it (`catalog/tag.entity.ts`). */
const appImport = (name: string, file: string): string =>
  `import { ${name} } from '${importPathOf(join(APP_DIR, file))}';`;

const TAG_RESOURCE = `${appImport('Tag', 'catalog/tag.entity.ts')}
import { Resource } from 'nestor';

/** \`/api/tags\` */
@Resource(Tag, { search: ['name'] })
export class TagResource {}
`;

const PRODUCT_RESOURCE = `${appImport('Product', 'catalog/product.entity.ts')}
import { AdminAction, Resource } from 'nestor';

@Resource(Product, { path: 'goods' })
export class ProductResource {
  @AdminAction('archive')
  archive(): string {
    return 'archived';
  }
}
`;

describe(planAdminAction.name, () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'nestor-action-'));
    mkdirSync(join(root, 'src', 'app', 'catalog'), { recursive: true });
    writeFileSync(join(root, 'src', 'app', 'catalog', 'tag.resource.ts'), TAG_RESOURCE);
    writeFileSync(join(root, 'src', 'app', 'catalog', 'product.resource.ts'), PRODUCT_RESOURCE);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('adds the method to an empty class and its names to the `nestor` import', async () => {
    const sut = await planAdminAction(root, 'Tag', 'mark-popular');
    expect(sut).toMatchObject({ resource: 'TagResource', method: 'markPopular', action: 'mark-popular' });
    expect(sut.file.path).toBe(join('src', 'app', 'catalog', 'tag.resource.ts'));
    expect(sut.file.content).toContain(
      `${appImport('Tag', 'catalog/tag.entity.ts')}\n` +
        "import { Resource, AdminAction, AdminActionContext } from 'nestor';",
    );
    expect(sut.file.content).toMatch(
      /export class TagResource \{\n[\s\S]*@AdminAction\('mark-popular', \{ confirm: 'Mark popular the selected tags\?' \}\)\n {2}markPopular\(\{ ids \}: AdminActionContext\): Promise<string> \{[\s\S]*\n\}\n$/,
    );
  });

  it('completes an existing import, keeps the other members and uses the declared path', async () => {
    const sut = await planAdminAction(root, 'ProductResource', 'feature');
    expect(sut.routePath).toBe('goods');
    expect(sut.file.content).toContain("import { AdminAction, Resource, AdminActionContext } from 'nestor';");
    expect(sut.file.content).toContain("  @AdminAction('archive')\n  archive(): string {");
    expect(sut.file.content.indexOf('archive()')).toBeLessThan(sut.file.content.indexOf('feature('));
  });

  it.each([
    ['Product', 'archive', /^NST-G015 ProductResource already has a member "archive"/],
    ['Product', 'Archive', /^NST-G015 ProductResource already has a member "archive"/],
    ['Nope', 'feature', /^NST-G014 No @Resource\(Nope\) class .*\(resources: Product, Tag\)/],
    ['Product', '1st', /^NST-G001 /],
  ])('refuses %s %s', async (resource, action, message) => {
    await expect(planAdminAction(root, resource, action)).rejects.toThrow(message);
  });
});
