import { SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from 'test/support/processes';

/** `npm start` as a user runs it (scripts/lib/npm-start.mjs, shared with the start-up smoke test). */
interface StartedApp {
  output: string;
  port: number;
  live(ms: number): Promise<number>;
  stop(ms?: number): Promise<boolean>;
}
type NpmStart = (options: {
  cwd: string;
  dataDir: string;
  env?: Record<string, string>;
}) => Promise<StartedApp>;

/** What `nestor new` writes: the layout users expect, one example resource, no shop. */
const NEW_PROJECT_FILES = [
  '.ci/run',
  '.gitignore',
  '.prettierignore',
  '.prettierrc',
  'README.md',
  'admin/README.md',
  'jest.config.js',
  'migrations/1796280074901-CreateNote.ts',
  'nest-cli.json',
  'package.json',
  'src/app.module.ts',
  'src/app/modules.ts',
  'src/app/notes/note.entity.ts',
  'src/app/notes/note.resource.spec.ts',
  'src/app/notes/note.resource.ts',
  'src/app/notes/notes.module.ts',
  'src/cli.ts',
  'src/main.ts',
  'src/worker.ts',
  'test/notes.e2e-spec.ts',
  'tsconfig.json',
];

/**
 * The framework as an outside team gets it: `npm pack`, `nestor new` into a temporary folder, the tarball
 * installed offline (from the npm cache this repository's `npm ci` filled), the new app started on the
 * embedded database, a resource generated there, and that project's own tests run. It took 5 minutes on a
 * 2-core machine busy with other test runs (load 15); most of it is the pack (the typings' tsc pass), the
 * install, the generator's migration and the project's tests. Each step has its own timeout.
 */
describe('nestor new (from the packed framework)', () => {
  let work: string;
  let project: string;
  let tarball: string;
  const timings: string[] = [];

  /**
   * The environment of the new project's commands: nothing pointing at this test's database or worker, and
   * none of this repository's npm settings (`npx jest` passes its .npmrc on as npm_config_*).
   */
  function env(): NodeJS.ProcessEnv {
    const skipped = /^(DATABASE_URL|REDIS_URL|NODE_ENV|JEST_WORKER_ID|npm_config_.*)$/i;
    return {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !skipped.test(name))),
      NO_COLOR: '1',
    };
  }

  function run(
    command: string,
    args: string[],
    cwd: string,
    timeout = 180_000,
  ): SpawnSyncReturns<string> & { output: string } {
    const started = Date.now();
    const result = spawnSync(command, args, { cwd, env: env(), encoding: 'utf8', timeout });
    timings.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${command} ${args.join(' ')}`);
    return Object.assign(result, { output: `${result.stdout}${result.stderr}` });
  }

  function files(dir: string, base = dir): string[] {
    return readdirSync(dir, { withFileTypes: true })
      .flatMap((entry) => {
        const path = join(dir, entry.name);
        return entry.isDirectory() ? files(path, base) : [relative(base, path)];
      })
      .sort();
  }

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'nestor-new-'));
    project = join(work, 'notebook');
  });
  afterAll(() => {
    process.stdout.write(`nestor new e2e:\n  ${timings.join('\n  ')}\n`);
    rmSync(work, { recursive: true, force: true });
  });

  it('packs the framework: compiled code, typings, admin UI, GraphiQL, bin and templates; no shop, no tests', () => {
    const packed = run('npm', ['pack', '--pack-destination', work, '--json'], ROOT, 400_000);
    expect({ status: packed.status, output: packed.stderr }).toMatchObject({ status: 0 });
    const [{ filename, files: entries }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(work, filename);
    const paths = entries.map((entry) => entry.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'dist/src/framework/index.js',
        'dist/src/framework/index.d.ts',
        'dist/src/framework/testing/index.js',
        'dist/src/framework/testing/index.d.ts',
        'admin/dist/index.html',
        'graphiql/dist/index.html',
        'scripts/nestor.mjs',
        'jest/preset.js',
        'templates/new/package.json.tmpl',
      ]),
    );
    const shipped = [
      'dist/src/framework/',
      'admin/dist/',
      'graphiql/dist/',
      'templates/new/',
      'jest/',
      'scripts/',
    ];
    const others = paths.filter((path) => !shipped.some((folder) => path.startsWith(folder)));
    expect(others.sort()).toEqual(['README.md', 'package.json']);
    expect(paths.filter((path) => path.startsWith('dist/') && /\.spec\.|e2e-spec/.test(path))).toEqual([]);
    // The typings import one another relatively: an app has no `src/…` path.
    const index = readFileSync(join(ROOT, 'dist', 'src', 'framework', 'index.d.ts'), 'utf8');
    expect(index).not.toMatch(/from 'src\//);
  }, 420_000);

  it('creates a project with `nestor new`', () => {
    const created = run(process.execPath, [join(ROOT, 'scripts', 'nestor.mjs'), 'new', 'notebook'], work);
    expect(created.output).toContain('Created notebook (21 files)');
    expect(files(project)).toEqual(NEW_PROJECT_FILES);
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      name: string;
      dependencies: Record<string, string>;
    };
    expect(manifest).toMatchObject({ name: 'notebook', dependencies: { nestor: '^0.1.0' } });
    expect(readFileSync(join(project, 'README.md'), 'utf8')).toMatch(
      /^```bash\nnpm install && npm start .*\nnpm test /,
    );
    expect(
      run(process.execPath, [join(ROOT, 'scripts', 'nestor.mjs'), 'new', 'notebook'], work).output,
    ).toContain('NST-N001 notebook exists and is not empty');
  }, 60_000);

  it('installs the tarball offline', () => {
    // The project takes the tarball instead of the registry's `nestor`, and this repository's lockfile, so
    // every other package is the one `npm ci` put in the cache (npm prunes what the project does not use).
    const manifestPath = join(project, 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, Record<string, string>>;
    manifest.dependencies.nestor = `file:${relative(project, tarball)}`;
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    const { name, version, dependencies, devDependencies, engines } = manifest;
    lock.packages[''] = { name, version, dependencies, devDependencies, engines };
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ ...lock, name, version }, null, 2));

    const installed = run('npm', ['install', '--offline', '--no-audit', '--no-fund'], project);
    expect({ status: installed.status, output: installed.output }).toMatchObject({ status: 0 });
    expect(files(join(project, 'node_modules', 'nestor'))).toContain('scripts/nestor.mjs');
  }, 180_000);

  it('starts on the embedded database: ready, and the example resource answers', async () => {
    const { npmStart } = (await import(join(ROOT, 'scripts', 'lib', 'npm-start.mjs'))) as {
      npmStart: NpmStart;
    };
    const app = await npmStart({ cwd: project, dataDir: join(work, 'data') });
    try {
      await app.live(120_000);
      const base = `http://127.0.0.1:${app.port}`;
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
      // Writing and reading need a login (the generated resource's default): the route is there, and says so.
      const notes = await fetch(`${base}/api/notes`);
      expect(notes.status).toBe(401);
      expect(notes.headers.get('content-type')).toContain('application/problem+json');
      const docs = (await (await fetch(`${base}/docs-json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/api/notes', '/api/notes/{id}']));
      expect((await fetch(`${base}/admin/`)).status).toBe(200);
    } finally {
      // SIGTERM to npm alone, as a process manager sends it: the app stops too (`exec` in its start script).
      expect(await app.stop()).toBe(true);
    }
  }, 150_000);

  it('generates a resource there, and the project passes its type check and its tests', () => {
    const generated = run(
      'npx',
      ['nestor', 'generate', 'resource', 'Book', '--fields', 'title:string! pages:int?'],
      project,
    );
    expect(generated.output).toContain('created  src/app/books/book.entity.ts');
    expect(generated.status).toBe(0);
    expect(generated.output).not.toContain('openapi:update'); // a new project keeps no snapshots
    expect(readFileSync(join(project, 'src', 'app', 'modules.ts'), 'utf8')).toContain('BooksModule');

    const checked = run('npm', ['run', 'check'], project);
    expect(checked.output).not.toMatch(/error TS/);
    expect(checked.status).toBe(0);

    const tested = run('npm', ['test'], project);
    expect(tested.output).toMatch(/Test Suites: 4 passed, 4 total/);
    expect(tested.status).toBe(0);
  }, 300_000);
});
