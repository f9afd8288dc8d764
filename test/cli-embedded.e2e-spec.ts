import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestorProcess, ROOT, childEnv, cli, ensureBuild, freePort } from 'test/support/processes';

const NESTOR = join(ROOT, 'scripts', 'nestor.mjs');
const ESC = '\u001b[';
/** A stack frame line, as Node prints them. */
const STACK = /^\s+at /m;

/**
 * The `nestor` command beside a running `npm start` on the embedded default (PGlite, which one process at a
 * time may open): every command that uses the database goes through the server's socket.
 */
describe('nestor beside the running server on the embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nestor-beside-'));
  let server: NestorProcess;
  let base: string;
  let env: Record<string, string>;

  /** `npx nestor …` with its output redirected (no terminal), as a script or CI would run it. */
  const nestor = (args: string[], extra: Record<string, string> = {}) =>
    cli(args, { ...env, ...extra }, NESTOR);
  const login = (email: string, password: string) =>
    fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
  /** Clean output: no colour codes, no stack trace. */
  const expectClean = (output: string) => {
    expect(output).not.toContain(ESC);
    expect(output).not.toMatch(STACK);
  };

  beforeAll(async () => {
    ensureBuild();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    server = new NestorProcess('main', { ...env, PORT: String(port) });
    for (let live = false; !live;) {
      if (server.child.exitCode !== null) {
        throw new Error(`The server exited (${server.child.exitCode}):\n${server.output}`);
      }
      live = (await fetch(`${base}/health/live`).catch(() => undefined))?.status === 200;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shares the database on a socket only this user may use, named in the lock', () => {
    const lock = JSON.parse(readFileSync(join(dataDir, 'pglite.lock'), 'utf8')) as {
      pid: number;
      socketDir: string;
    };
    expect(lock).toEqual({ pid: server.child.pid, socketDir: join(dataDir, 'pglite.socket') });
    expect(statSync(lock.socketDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(lock.socketDir, '.s.PGSQL.5432')).mode & 0o777).toBe(0o600);
  });

  it('migrate, showmigrations and check work', () => {
    const migrate = nestor(['migrate']);
    expect(migrate).toMatchObject({ status: 0, output: 'No pending migrations.\n' });
    const shown = nestor(['showmigrations']);
    expect(shown.status).toBe(0);
    expect(shown.output).toMatch(
      /^\[X\] nestor\.NestorInitial\d+\n(\[X\] nestor\.\w+\n)*\[X\] ShopInitial\d+$/m,
    );
    expect(shown.output).not.toContain('[ ]');
    const check = nestor(['check']);
    expect(check).toMatchObject({ status: 0, output: expect.stringContaining('no issues') });
    [migrate, shown, check].forEach(({ output }) => expectClean(output));
  });

  it('seed fills the database the server serves, which keeps answering meanwhile', async () => {
    const seeding = new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [NESTOR, 'seed', '--count', '40'], {
        cwd: ROOT,
        env: childEnv(env),
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => resolve({ code, output }));
    });
    const statuses: number[] = [];
    let done = false;
    void seeding.then(() => (done = true));
    while (!done) {
      statuses.push((await fetch(`${base}/api/products?limit=1`)).status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { code, output } = await seeding;

    expect({ code, output }).toMatchObject({
      code: 0,
      output: expect.stringMatching(/^Seeded 40 products,/),
    });
    expectClean(output);
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set([200]));
    const drafts = (await (await fetch(`${base}/api/products?filter[status]=draft`)).json()) as {
      meta: { total: number };
    };
    expect(drafts.meta.total).toBe(4);
    const [, email, password] = /Staff login \(admin at \/admin\): (\S+) \/ (\S+),/.exec(output)!;
    expect((await login(email, password)).status).toBe(200);
  }, 120_000);

  it('createsuperuser and changepassword change the accounts the server signs in', async () => {
    const created = nestor(['createsuperuser', '--no-input'], {
      NESTOR_SUPERUSER_EMAIL: 'beside@example.com',
      NESTOR_SUPERUSER_PASSWORD: 'first password 1',
    });
    expect(created).toMatchObject({
      status: 0,
      output: expect.stringMatching(/^Superuser beside@example\.com created \(id \d+\)\.\n$/),
    });
    expect((await login('beside@example.com', 'first password 1')).status).toBe(200);

    const changed = nestor(['changepassword', 'beside@example.com', '--no-input'], {
      NESTOR_PASSWORD: 'second password 2',
    });
    expect(changed).toMatchObject({ status: 0, output: expect.stringContaining('Password changed') });
    expect((await login('beside@example.com', 'first password 1')).status).toBe(401);
    expect((await login('beside@example.com', 'second password 2')).status).toBe(200);
    [created, changed].forEach(({ output }) => expectClean(output));
  });

  it('shell reads the same data', async () => {
    const { meta } = (await (await fetch(`${base}/api/categories?limit=1`)).json()) as {
      meta: { total: number };
    };
    const child = spawn(process.execPath, [NESTOR, 'shell'], { cwd: ROOT, env: childEnv(env) });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdin.end(`await Category.count().then((n) => 'categories:' + n)\n`);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    expect({ code, output }).toMatchObject({
      code: 0,
      output: expect.stringContaining(`'categories:${meta.total}'`),
    });
    expectClean(output);
  }, 60_000);

  it('reports a refusal as one coded line, and the stack only with --verbose', () => {
    const refused = nestor(['createsuperuser', '--no-input'], {
      NESTOR_SUPERUSER_EMAIL: 'beside@example.com',
      NESTOR_SUPERUSER_PASSWORD: 'another password 3',
    });
    expect(refused).toEqual({
      status: 1,
      output: 'NST-U004 A user with the email beside@example.com already exists.\n',
    });

    const verbose = nestor(['changepassword', 'nobody@example.com', '--no-input', '--verbose'], {
      NESTOR_PASSWORD: 'x'.repeat(12),
    });
    expect(verbose.status).toBe(1);
    expect(verbose.output).toContain('NST-U005 No user has the email nobody@example.com.');
    expect(verbose.output).toMatch(STACK);
    expect(verbose.output).not.toContain(ESC);
  });

  it('opens the files itself once the server has stopped, and says so when another command holds them', async () => {
    expect(await server.stop()).toBe(0);
    expect(() => statSync(join(dataDir, 'pglite.socket'))).toThrow();

    const shown = nestor(['showmigrations']);
    expect(shown.status).toBe(0);
    expect(shown.output).toMatch(/^\[X\] ShopInitial\d+$/m);

    // A command holds the files and shares them with nobody: the next one gets one coded line.
    const shell = spawn(process.execPath, [NESTOR, 'shell'], { cwd: ROOT, env: childEnv(env) });
    let banner = '';
    shell.stderr.on('data', (chunk: Buffer) => (banner += chunk.toString()));
    try {
      while (!banner.includes('Repositories:')) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const held = nestor(['seed']);
      expect(held.status).toBe(1);
      expect(held.output).toMatch(
        /^NST-D002 The embedded database in \S+ is already open in process \d+\. [^\n]+\n$/,
      );
    } finally {
      shell.stdin.end();
      await new Promise((resolve) => shell.once('exit', resolve));
    }
  }, 120_000);
});
