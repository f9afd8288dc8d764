import { spawn } from 'node:child_process';
import { ROOT } from 'test/support/processes';

/**
 * ESLint loads its flat config with import(), which Jest's VM refuses: lint in a child process, all snippets
 * in one (type-checked ESLint builds the project's program once, not once per snippet).
 */
const LINT_SNIPPETS = `
import { ESLint } from 'eslint';
const cases = JSON.parse(await new Response(process.stdin).text());
const eslint = new ESLint();
const messages = [];
for (const { code, filePath } of cases) {
  const [report] = await eslint.lintText(code, { filePath });
  messages.push(report.messages.map((m) => m.message));
}
process.stdout.write(JSON.stringify(messages));
`;

function lint(...cases: [code: string, filePath: string][]): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', LINT_SNIPPETS], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as string[][])
        : reject(new Error(`eslint exited ${code}: ${err}`)),
    );
    child.stdin.end(JSON.stringify(cases.map(([code, filePath]) => ({ code, filePath }))));
  });
}

/** The layout rules lint enforces (docs/architecture.md §2), checked as if in real files of each tree. */
describe('Lint boundaries', () => {
  let framework: string[];
  let parent: string[];
  let internal: string[];
  let publicEntry: string[];
  let selfImport: string[];

  beforeAll(async () => {
    [framework, parent, internal, publicEntry, selfImport] = await lint(
      [
        "import { Category } from 'src/app/catalog/category.entity';\nexport const x = Category;\n",
        `${ROOT}/src/framework/database/migrations.ts`,
      ],
      [
        "import { NestorModule } from '../../framework/nestor.module';\nexport const x = NestorModule;\n",
        `${ROOT}/src/app/catalog/catalog.module.ts`,
      ],
      [
        "import { NestorModule } from 'src/framework/nestor.module';\nexport const x = NestorModule;\n",
        `${ROOT}/src/app/catalog/catalog.module.ts`,
      ],
      [
        "import { NestorModule } from 'nestor';\nimport { createTestApp } from 'nestor/testing';\nexport const x = [NestorModule, createTestApp];\n",
        `${ROOT}/src/app/catalog/catalog.module.ts`,
      ],
      [
        "import { Resource } from 'nestor';\nexport const x = Resource;\n",
        `${ROOT}/src/framework/resource/resource.module.ts`,
      ],
    );
  }, 180_000); // type-checked ESLint builds the whole project's program first

  it('forbids src/framework from importing the example shop', () => {
    expect(framework).toContainEqual(expect.stringContaining('src/framework must not import src/app'));
  });

  it('forbids climbing out of a folder with ../', () => {
    expect(parent).toContainEqual(expect.stringContaining('Import from "src/…"'));
  });

  it('lets the app reach the framework only through its public entry points', () => {
    expect(internal).toContainEqual(expect.stringContaining('An app imports the framework from "nestor"'));
    expect(publicEntry).toEqual([]);
  });

  it('keeps the framework off its own public entry point', () => {
    expect(selfImport).toContainEqual(expect.stringContaining('"nestor" is for apps'));
  });
});
