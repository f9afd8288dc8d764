import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from 'src/framework/cli/context';
import { APP_DIR, appendToAppModules, importPathOf } from 'src/framework/cli/generate/project';

/** An app module's import line, as a project's modules.ts has it (`catalog/catalog.module.ts`). */
const appImport = (name: string, file: string): string =>
  `import { ${name} } from '${importPathOf(join(APP_DIR, file))}';`;

describe(appendToAppModules.name, () => {
  let root: string;
  const modules = (source: string): void => writeFileSync(join(root, 'src', 'app', 'modules.ts'), source);
  const sut = () =>
    appendToAppModules(root, 'CouponsModule', importPathOf(join(APP_DIR, 'coupons/coupons.module.ts')));

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'nestor-generate-'));
    mkdirSync(join(root, 'src', 'app'), { recursive: true });
    writeFileSync(
      join(root, '.prettierrc'),
      '{ "singleQuote": true, "trailingComma": "all", "printWidth": 110 }',
    );
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('adds the import in path order and appends the module to APP_MODULES', async () => {
    modules(
      `${appImport('CatalogModule', 'catalog/catalog.module.ts')}\n` +
        `${appImport('OrdersModule', 'orders/orders.module.ts')}\n\n` +
        '/** The feature modules. */\nexport const APP_MODULES = [CatalogModule, OrdersModule];\n',
    );
    expect((await sut()).content).toBe(
      `${appImport('CatalogModule', 'catalog/catalog.module.ts')}\n` +
        `${appImport('CouponsModule', 'coupons/coupons.module.ts')}\n` +
        `${appImport('OrdersModule', 'orders/orders.module.ts')}\n\n` +
        '/** The feature modules. */\nexport const APP_MODULES = [CatalogModule, OrdersModule, CouponsModule];\n',
    );
  });

  it('fills an empty list and keeps comments', async () => {
    modules('// Generators append here.\nexport const APP_MODULES = [\n  // none yet\n];\n');
    const { content } = await sut();
    expect(content).toContain(appImport('CouponsModule', 'coupons/coupons.module.ts'));
    expect(content).toContain('// Generators append here.');
    expect(content).toMatch(/export const APP_MODULES = \[\s*CouponsModule[\s\S]*\];/);
  });

  it.each([
    ['export const OTHER = [];\n', 'has no `export const APP_MODULES'],
    ['const base = [];\nexport const APP_MODULES = base;\n', 'APP_MODULES is not an array literal'],
    [
      `${appImport('CouponsModule', 'coupons/coupons.module.ts')}\nexport const APP_MODULES = [CouponsModule];\n`,
      'APP_MODULES already lists CouponsModule',
    ],
  ])('refuses a modules file it cannot safely edit: %j', async (source, message) => {
    modules(source);
    const error = await sut().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/^NST-G011 /);
    expect((error as CliError).message).toContain(message);
  });

  it('tells the user what to add when the file is missing', async () => {
    await expect(sut()).rejects.toThrow(
      /NST-G011 .*import \{ CouponsModule \} from 'src\/app\/coupons\/coupons.module'/,
    );
  });
});
