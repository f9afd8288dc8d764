import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from 'test/support/processes';

/** ESLint loads its flat config with import(), which Jest's VM refuses: lint in a child process. */
function lint(code: string, filePath: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const eslint = join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');
    const child = spawn(
      process.execPath,
      [eslint, '--stdin', '--stdin-filename', filePath, '--format', 'json'],
      {
        cwd: ROOT,
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const reports = JSON.parse(out) as { messages: { message: string }[] }[];
      resolve(reports.flatMap((r) => r.messages.map((m) => m.message)));
    });
    child.stdin.end(code);
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
    [framework, parent, internal, publicEntry, selfImport] = await Promise.all([
      lint(
        "import { Category } from 'src/app/catalog/category.entity';\nexport const x = Category;\n",
        `${ROOT}/src/framework/database/migrations.ts`,
      ),
      lint(
        "import { NestorModule } from '../../framework/nestor.module';\nexport const x = NestorModule;\n",
        `${ROOT}/src/app/catalog/catalog.module.ts`,
      ),
      lint(
        "import { NestorModule } from 'src/framework/nestor.module';\nexport const x = NestorModule;\n",
        `${ROOT}/src/app/catalog/catalog.module.ts`,
      ),
      lint(
        "import { NestorModule } from 'nestor';\nimport { createTestApp } from 'nestor/testing';\nexport const x = [NestorModule, createTestApp];\n",
        `${ROOT}/src/app/catalog/catalog.module.ts`,
      ),
      lint(
        "import { Resource } from 'nestor';\nexport const x = Resource;\n",
        `${ROOT}/src/framework/resource/resource.module.ts`,
      ),
    ]);
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
