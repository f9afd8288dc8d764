import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NestorProcess, ROOT, childEnv, ensureBuild, freePort } from 'test/support/processes';
import { waitFor } from 'test/support/wait';

/** The banner's message: the JSON log line that carries it (output off a terminal is JSON). */
function banner(output: string): string {
  const line = output.split('\n').find((l) => l.includes('Nestor is listening'));
  return line ? (JSON.parse(line) as { msg: string }).msg : '';
}

/** The command lines of `pid`'s descendants. */
function descendants(pid: number): { pid: number; args: string }[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/)!);
  const below = (p: number): string[][] =>
    rows.filter((row) => Number(row[2]) === p).flatMap((row) => [row, ...below(Number(row[1]))]);
  return below(pid).map((row) => ({ pid: Number(row[1]), args: row[3] }));
}

/** `npm start`'s process on the embedded default, as a new user first meets it. */
describe('Boot: a quiet log, one banner, the API root', () => {
  let dataDir: string;

  beforeAll(() => {
    ensureBuild();
    dataDir = mkdtempSync(join(tmpdir(), 'nestor-boot-'));
  }, 120_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function boot(env: Record<string, string> = {}): Promise<{ server: NestorProcess; base: string }> {
    const port = await freePort();
    const server = new NestorProcess('main', { PORT: String(port), DATA_DIR: dataDir, ...env });
    await server.waitFor('Nestor is listening', 60_000);
    return { server, base: `http://127.0.0.1:${port}` };
  }

  it('prints no per-module lines, and one banner naming URLs, database, jobs, migrations and the seed command', async () => {
    const { server, base } = await boot();
    try {
      for (const context of ['InstanceLoader', 'RouterExplorer', 'RoutesResolver', 'NestFactory']) {
        expect(server.output).not.toContain(`"context":"${context}"`);
      }
      const text = banner(server.output);
      expect(text.split('\n')).toEqual([
        `Nestor is listening on ${base} (development)`,
        `  API:        ${base}/api`,
        `  Swagger UI: ${base}/docs  (OpenAPI: ${base}/docs-json)`,
        `  GraphQL:    ${base}/graphql  (GraphiQL: ${base}/graphiql)`,
        `  Admin:      ${base}/admin/`,
        `  Health:     ${base}/health/live  ${base}/health/ready`,
        `  Metrics:    ${base}/metrics`,
        `  Database:   embedded PGlite (${dataDir}/pglite)`,
        expect.stringMatching(/^ {2}Jobs: {7}in-process from the outbox/),
        // The framework's migrations first, then the app's.
        expect.stringMatching(
          /^ {2}Migrations: applied \d+: NestorInitial\d+(, \w+\d{13})*, ShopInitial\d+$/,
        ),
        `  Data dir:   ${dataDir}`,
        '  The database is empty: load demo data with `npx nestor seed`',
      ]);
      // Only the banner, the development warnings and nothing per module: a screenful, not 150 lines.
      expect(server.output.trim().split('\n').length).toBeLessThanOrEqual(5);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('says "none pending" on the next start; LOG_LEVEL=debug still shows the per-module lines', async () => {
    const { server } = await boot({ LOG_LEVEL: 'debug' });
    try {
      expect(banner(server.output)).toContain('  Migrations: none pending');
      expect(server.output).toMatch(/"level":20,[^\n]*"context":"InstanceLoader"/);
      expect(server.output).toMatch(/"level":20,[^\n]*"context":"RouterExplorer"[^\n]*Mapped \{\/api, GET\}/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('answers GET /api with every resource and the docs, and GET / with a redirect there', async () => {
    const { server, base } = await boot();
    try {
      const root = await fetch(`${base}/api`);
      expect(root.status).toBe(200);
      const body = (await root.json()) as { resources: { name: string; href: string }[]; links: object };
      expect(body.resources).toContainEqual({ name: 'products', href: '/api/products' });
      expect(body.resources).toContainEqual({ name: 'users', href: '/api/users' });
      expect(body.resources.map((r) => r.name)).toEqual(body.resources.map((r) => r.name).sort());
      expect(body.links).toEqual({
        self: '/api',
        docs: '/docs',
        openapi: '/docs-json',
        admin: '/admin/',
        health: '/health/ready',
      });
      for (const { href } of body.resources) {
        expect([href, (await fetch(`${base}${href}`)).status]).not.toEqual([href, 404]);
      }

      const home = await fetch(`${base}/`, { redirect: 'manual' });
      expect(home.status).toBe(302);
      expect(home.headers.get('location')).toBe('/api');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('leaves the docs out of /api with DOCS=off', async () => {
    const { server, base } = await boot({ DOCS: 'off' });
    try {
      const body = (await (await fetch(`${base}/api`)).json()) as { links: object };
      expect(body.links).toEqual({ self: '/api', admin: '/admin/', health: '/health/ready' });
      expect(banner(server.output)).toContain('  Swagger UI: off (DOCS=off)');
      expect(banner(server.output)).toContain(`  GraphQL:    ${base}/graphql  (GraphiQL: ${base}/graphiql)`);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('`npm start` runs the bundle through its launcher, which answers /health/live and /health/ready and stops with npm', async () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    // `exec`: the app replaces npm's shell, so the SIGTERM npm passes on reaches it (a shell would not).
    expect(scripts.start).toBe('exec node dist/bundle/launch.js main');
    const port = await freePort();
    const env = childEnv({ PORT: String(port), DATA_DIR: dataDir });
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...env, PATH: `${dirname(process.execPath)}:${env.PATH}` },
      detached: true, // its own process group: whatever a failed stop leaves is killed with it
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    try {
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 90_000;
      while ((await fetch(`${base}/health/live`).catch(() => undefined))?.status !== 200) {
        expect(npm.exitCode === null && Date.now() < deadline).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
      const app = descendants(npm.pid!).find(({ args }) =>
        /^\S*node dist\/bundle\/launch\.js main$/.test(args),
      );
      expect(app).toBeDefined();
      // As a process manager stops it: SIGTERM to npm alone. The app shuts down, not orphaned.
      process.kill(npm.pid!, 'SIGTERM');
      await exited;
      await waitFor('the app to exit after npm was stopped', () => {
        try {
          process.kill(app!.pid, 0);
          return false;
        } catch {
          return true;
        }
      });
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // the whole group is gone
      }
    }
  }, 120_000);
});
