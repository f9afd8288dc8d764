import { SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from 'test/support/processes';

/** Every field type and modifier `--fields` knows, with relations to the shop's Category, Tag and User. */
const FIELDS = [
  'name:string',
  'code:string(20)!',
  'price:decimal',
  'stock:int',
  'weight:float?',
  'active:bool',
  'released:date?',
  'launchAt:datetime?',
  'specs:json?',
  'serial:uuid?',
  'notes:text?',
  'status:enum(draft,active,in-stock)',
  'category:belongsTo(Category)',
  'owner:belongsTo(User)?',
  'tags:manyToMany(Tag)',
].join(' ');

const GENERATED = [
  'src/app/gadgets/gadget.entity.ts',
  'src/app/gadgets/gadget.resource.ts',
  'src/app/gadgets/gadgets.module.ts',
  'src/app/gadgets/gadget.resource.spec.ts',
  'test/gadgets.e2e-spec.ts',
];
const JOB_FILES = [
  'src/app/reports/reports-cleanup.job.ts',
  'src/app/reports/reports-cleanup-job.module.ts',
  'src/app/reports/reports-cleanup.job.spec.ts',
];

/** What a project copy needs to build, run, type-check, lint and test (node_modules is linked). */
const PROJECT = [
  'src',
  'test',
  'migrations',
  'scripts',
  'dist',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'nest-cli.json',
  'eslint.config.mjs',
  'jest.config.js',
  'jest',
  '.prettierrc',
  '.prettierignore',
];

/**
 * `nestor generate` as users run it: the real CLI in a copy of the project, whose generated code must then
 * type-check, lint, pass its own tests and leave no migration missing.
 */
describe('nestor generate', () => {
  let copy: string;
  const timings: string[] = [];

  /** The environment of the copy's commands: nothing pointing at this test's database or Jest worker. */
  function env(): NodeJS.ProcessEnv {
    const { DATABASE_URL: _db, NODE_ENV: _env, JEST_WORKER_ID: _worker, ...rest } = process.env;
    return { ...rest, NO_COLOR: '1' };
  }
  const label = (args: string[]): string =>
    args.map((a) => (a.startsWith(copy) ? relative(copy, a) : a)).join(' ');

  /** Runs a command in the copy (stdout + stderr collected), timing it for the log. */
  function run(args: string[], timeout = 180_000): SpawnSyncReturns<string> & { output: string } {
    const started = Date.now();
    const result = spawnSync(process.execPath, args, { cwd: copy, env: env(), encoding: 'utf8', timeout });
    timings.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${label(args)}`);
    return Object.assign(result, { output: `${result.stdout}${result.stderr}` });
  }

  /** {@link run} without blocking, so independent checks share the wall-clock time. */
  function runAsync(
    args: string[],
    note = ' (in parallel)',
  ): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: copy, env: env() });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', (status) => {
        timings.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${label(args)}${note}`);
        resolve({ status, stdout, stderr });
      });
    });
  }

  /** Through the `nestor` bin, which rebuilds dist/ when the sources are newer. */
  const nestor = (...args: string[]) => run([join(copy, 'scripts', 'nestor.mjs'), ...args]);
  /** The built CLI directly: generators need no rebuild of the app they are about to change. */
  const built = (...args: string[]) => run([join(copy, 'dist', 'src', 'cli.js'), ...args]);
  const read = (path: string) => readFileSync(join(copy, path), 'utf8');

  /** Every source file of the copy with its content: "nothing was written" is checked against this. */
  function tree(): Map<string, string> {
    const files = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(join(copy, dir), { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          walk(path);
        } else {
          files.set(path, read(path));
        }
      }
    };
    ['src', 'test', 'migrations'].forEach(walk);
    return files;
  }

  beforeAll(() => {
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    copy = mkdtempSync(join(ROOT, '.tmp', 'generate-'));
    for (const entry of PROJECT.filter((e) => existsSync(join(ROOT, e)))) {
      // Timestamps kept: a dist/ newer than its sources is not rebuilt by the copy's first command.
      cpSync(join(ROOT, entry), join(copy, entry), { recursive: true, preserveTimestamps: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  });
  afterAll(() => {
    rmSync(copy, { recursive: true, force: true });
    process.stdout.write(`nestor generate timings:\n  ${timings.join('\n  ')}\n`);
  });

  it('refuses bad field specs with a coded message and writes nothing', () => {
    const before = tree();
    const cases: [string, string][] = [
      ['name:strin', 'NST-G003'],
      ['category:belongsTo(Nope)', 'NST-G007'],
      ['id:int', 'NST-G006'],
      ['name:string name:text', 'NST-G005'],
    ];
    const first = nestor('generate', 'resource', 'Gadget', '--fields', cases[0][0]);
    expect(first.status).toBe(1);
    expect(first.stderr).toContain(cases[0][1]);
    for (const [fields, code] of cases.slice(1)) {
      const result = built('generate', 'resource', 'Gadget', '--fields', fields);
      expect({ fields, status: result.status, code: result.stderr.slice(0, 8) }).toEqual({
        fields,
        status: 1,
        code,
      });
      expect(result.stderr).not.toMatch(/\n\s+at /); // a coded line, not a stack trace
    }
    expect(tree()).toEqual(before);
  }, 300_000);

  it('scaffolds a resource, wires its module into APP_MODULES and writes its migration', () => {
    const result = nestor('generate', 'resource', 'Gadget', '--fields', FIELDS);
    expect(result.status).toBe(0);
    for (const path of GENERATED) {
      expect(result.stdout).toContain(`created  ${path}`);
      expect(existsSync(join(copy, path))).toBe(true);
    }
    expect(result.stdout).toContain('changed  src/app/modules.ts');
    // This project keeps OpenAPI snapshots (an openapi:update script): the hint says to refresh them.
    expect(result.stdout).toContain('npm run openapi:update');
    expect(result.stdout).toContain('nestor migrate');
    expect(result.stderr).not.toContain('also changes'); // the migration holds this resource only

    const modules = read('src/app/modules.ts');
    expect(modules).toContain("import { GadgetsModule } from 'src/app/gadgets/gadgets.module';");
    expect(modules).toMatch(/export const APP_MODULES = \[[^\]]*ReportsModule,\s*GadgetsModule,?\s*\]/);

    const [migration] = readdirSync(join(copy, 'migrations')).filter((f) => f.endsWith('-CreateGadget.ts'));
    expect(result.stdout).toContain(`created  migrations/${migration}`);
    const sql = read(`migrations/${migration}`);
    expect(sql).toContain("CREATE TYPE \"public\".\"gadget_status\" AS ENUM('draft', 'active', 'in-stock')");
    expect(sql).toContain('CREATE TABLE "gadget" (');
    expect(sql).toContain('"price" numeric(10,2) NOT NULL');
    expect(sql).toContain('CREATE TABLE "gadget_tags"');
    expect(sql).toContain('REFERENCES "category"("id") ON DELETE RESTRICT');
  }, 300_000);

  it('refuses to run again over its own files, changing nothing', () => {
    const before = tree();
    const again = built('generate', 'resource', 'Gadget', '--fields', 'name:string');
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('NST-G010 Refusing to overwrite src/app/gadgets/gadget.entity.ts');
    expect(tree()).toEqual(before);
  });

  it('scaffolds a job with its module and spec', () => {
    const result = built('generate', 'job', 'reports.cleanup');
    expect(result.status).toBe(0);
    for (const path of JOB_FILES) {
      expect(result.stdout).toContain(`created  ${path}`);
    }
    expect(read('src/app/reports/reports-cleanup.job.ts')).toContain("@Job('reports.cleanup'");
    expect(read('src/app/modules.ts')).toMatch(/GadgetsModule,\s*ReportsCleanupJobModule,?\s*\]/);
  });

  it('adds an admin action to an existing resource class, once', () => {
    const before = read('src/app/catalog/product.resource.ts');
    const result = built('generate', 'action', 'Product', 'feature');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('changed  src/app/catalog/product.resource.ts');
    const after = read('src/app/catalog/product.resource.ts');
    expect(after).toContain("@AdminAction('feature', { confirm: 'Feature the selected products?' })");
    expect(after.replace(/\n {2}\/\*\* Admin action "feature"[\s\S]*?\n {2}\}\n/, '')).toBe(before);

    const twice = built('generate', 'action', 'Product', 'feature');
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain('NST-G015');
    expect(read('src/app/catalog/product.resource.ts')).toBe(after);
  });

  it('leaves a project whose migrations are complete and whose code type-checks, lints and passes its tests', async () => {
    const bin = (...path: string[]) => join(copy, 'node_modules', ...path);
    const migration = readdirSync(join(copy, 'migrations')).filter((f) => f.endsWith('-CreateGadget.ts'));
    const lintable = [
      ...GENERATED,
      ...JOB_FILES,
      'src/app/modules.ts',
      'src/app/catalog/product.resource.ts',
      ...migration.map((f) => `migrations/${f}`),
    ];
    const specs = [...GENERATED, ...JOB_FILES].filter((f) => /\.(e2e-)?spec\.ts$/.test(f));
    // The migration check rebuilds dist/ (the new migration is in no build yet) while tsc and ESLint run;
    // tsc keeps its incremental state apart from the build's.
    const [check, tsc, lint] = await Promise.all([
      runAsync([join(copy, 'scripts', 'nestor.mjs'), 'makemigrations', '--check']),
      runAsync([
        bin('typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.json',
        '--noEmit',
        '--tsBuildInfoFile',
        join(copy, '.tsbuildinfo-check'),
      ]),
      runAsync([bin('eslint', 'bin', 'eslint.js'), '--max-warnings', '0', ...lintable]),
    ]);
    expect({ check: check.status, output: check.stdout + check.stderr }).toMatchObject({ check: 0 });
    expect(check.stdout).toContain('OK: the entities match the migrations.');
    expect({ tsc: tsc.status, output: tsc.stdout + tsc.stderr }).toEqual({ tsc: 0, output: '' });
    expect({ eslint: lint.status, output: lint.stdout + lint.stderr }).toEqual({ eslint: 0, output: '' });

    const jest = await runAsync([bin('jest', 'bin', 'jest.js'), '--ci', ...specs], '');
    expect({ jest: jest.status, output: jest.stderr }).toMatchObject({ jest: 0 });
    expect(jest.stderr).toContain('Test Suites: 3 passed, 3 total');
  }, 600_000);
});
