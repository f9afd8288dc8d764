import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planAdminAction } from 'src/framework/cli/generate/action';

const TAG_RESOURCE = `import { Tag } from 'src/app/catalog/tag.entity';
import { Resource } from 'src/framework/resource/resource.decorator';

/** \`/api/tags\` */
@Resource(Tag, { search: ['name'] })
export class TagResource {}
`;

const PRODUCT_RESOURCE = `import { Product } from 'src/app/catalog/product.entity';
import { AdminAction } from 'src/framework/admin/admin-action.decorator';
import { Resource } from 'src/framework/resource/resource.decorator';

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

  it('adds the method to an empty class and the import in path order', async () => {
    const sut = await planAdminAction(root, 'Tag', 'mark-popular');
    expect(sut).toMatchObject({ resource: 'TagResource', method: 'markPopular', action: 'mark-popular' });
    expect(sut.file.path).toBe(join('src', 'app', 'catalog', 'tag.resource.ts'));
    expect(sut.file.content).toContain(
      "import { Tag } from 'src/app/catalog/tag.entity';\n" +
        "import { AdminAction, AdminActionContext } from 'src/framework/admin/admin-action.decorator';\n" +
        "import { Resource } from 'src/framework/resource/resource.decorator';",
    );
    expect(sut.file.content).toMatch(
      /export class TagResource \{\n[\s\S]*@AdminAction\('mark-popular', \{ confirm: 'Mark popular the selected tags\?' \}\)\n {2}markPopular\(\{ ids \}: AdminActionContext\): Promise<string> \{[\s\S]*\n\}\n$/,
    );
  });

  it('completes an existing import, keeps the other members and uses the declared path', async () => {
    const sut = await planAdminAction(root, 'ProductResource', 'feature');
    expect(sut.routePath).toBe('goods');
    expect(sut.file.content).toContain(
      "import { AdminAction, AdminActionContext } from 'src/framework/admin/admin-action.decorator';",
    );
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
