import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestDatabase, createTestDatabase, deleteRedisKeys } from 'src/framework/testing';
import { FrozenProxy } from 'test/support/frozen-proxy';
import { NestorProcess, ROOT, cli, copyBuild, ensureBuild, freePort } from 'test/support/processes';
import { sleep } from 'test/support/wait';

/** The entry points as users run them: built `dist/`, real processes, real ports, real signals. */
describe('Entry points (main, worker, cli)', () => {
  let db: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    ensureBuild();
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'nestor-proc-'));
  }, 120_000);
  afterAll(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start on bad configuration, naming every offending variable', async () => {
    const proc = new NestorProcess('main', { PORT: 'abc', LOG_LEVEL: 'loud', DATA_DIR: dataDir });
    expect(await proc.exited).toBe(1);
    expect(proc.output).toContain('NST-C001');
    expect(proc.output).toMatch(/PORT="abc": expected a TCP port/);
    expect(proc.output).toMatch(/LOG_LEVEL="loud": expected one of/);
    expect(proc.output).not.toMatch(/\n\s+at /);
  });

  it('in production waits for migrations: ready fails until `nestor migrate`, then passes', async () => {
    const port = String(await freePort());
    const env = {
      DATABASE_URL: db.url,
      PORT: port,
      NODE_ENV: 'production',
      SECRET_KEY: 'x'.repeat(40),
      DATA_DIR: dataDir,
    };
    const server = new NestorProcess('main', env);
    try {
      await server.waitFor('Nestor is listening');
      expect(server.output).toContain(`Database:   PostgreSQL 127.0.0.1:5432/${db.name}`);
      expect(server.output).toContain(`Data dir:   ${dataDir}`);
      expect(server.output).toContain(
        'Migrations: not applied at boot (production): run `npx nestor migrate`',
      );
      expect(server.output).not.toContain('nestor seed');
      expect(server.output).not.toContain('decorator metadata'); // Nest's warning about the generated handlers

      const before = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(before.status).toBe(503);
      expect(await before.json()).toMatchObject({ checks: { migrations: { status: 'down' } } });

      const run = cli(['migrate'], env);
      expect(run).toMatchObject({ status: 0 });
      expect(run.output).toMatch(
        /^Applied nestor\.NestorInitial\d+\n(Applied nestor\.\w+\n)*Applied ShopInitial\d+$/m,
      );
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);

      expect(cli(['showmigrations'], env).output).toMatch(/\[X\] ShopInitial\d+/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('logs each request as JSON with its request id and redacts credentials', async () => {
    const port = String(await freePort());
    const server = new NestorProcess('main', { DATABASE_URL: db.url, PORT: port, DATA_DIR: dataDir });
    try {
      await server.waitFor('Nestor is listening');
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`, {
        headers: {
          'x-request-id': 'trace-me-42',
          authorization: 'Bearer sekrit-token',
          cookie: 'sid=sekrit-cookie',
        },
      });
      expect(res.headers.get('x-request-id')).toBe('trace-me-42');
      await server.waitFor('"id":"trace-me-42"');
      const line = server.output.split('\n').find((l) => l.includes('"id":"trace-me-42"'))!;
      expect(JSON.parse(line)).toMatchObject({
        req: { headers: { authorization: '[redacted]', cookie: '[redacted]' } },
      });
      expect(server.output).not.toContain('sekrit');
    } finally {
      await server.stop();
    }
  });

  it('finishes an in-flight request on SIGTERM, then exits 0', async () => {
    const port = Number(await freePort());
    const server = new NestorProcess('main', { DATABASE_URL: db.url, PORT: String(port), DATA_DIR: dataDir });
    await server.waitFor('Nestor is listening');
    // A request whose body is still arriving when the signal lands is in flight.
    const response = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/health/live',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.write('{"slow":');
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end('true}'), 300);
      }, 100);
    });
    expect(await response).toBe(405); // /health/live takes GET: answered, not cut off
    expect(await server.exited).toBe(0);
    expect(server.output).toContain('SIGTERM received');
  });

  it('on SIGTERM fails readiness first and keeps serving for SHUTDOWN_DRAIN_MS, then stops listening and exits 0', async () => {
    const port = Number(await freePort());
    const url = `http://127.0.0.1:${port}`;
    const server = new NestorProcess('main', {
      DATABASE_URL: db.url,
      PORT: String(port),
      DATA_DIR: dataDir,
      SHUTDOWN_DRAIN_MS: '1500',
    });
    await server.waitFor('Nestor is listening');
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await server.waitFor('SIGTERM received');
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      detail: 'Not ready: shutdown',
      checks: { shutdown: { status: 'down', message: 'shutting down' }, database: { status: 'up' } },
    });
    // Still serving, on new connections too, while the load balancer takes the process out.
    expect((await fetch(`${url}/api/products`)).status).toBe(200);
    expect(await server.exited).toBe(0);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1500);
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  });

  it('with Redis unreachable, serves, says so on /health/ready, logs only JSON lines and exits 0', async () => {
    const port = Number(await freePort());
    const url = `http://127.0.0.1:${port}`;
    const server = new NestorProcess('main', {
      DATABASE_URL: db.url,
      REDIS_URL: 'redis://127.0.0.1:1', // nothing listens on port 1
      PORT: String(port),
      DATA_DIR: dataDir,
    });
    try {
      await server.waitFor('Nestor is listening');
      const ready = await fetch(`${url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { redis: { status: 'down' } } });
      // The request budget's store is down: refused with a problem, not served unlimited.
      expect((await fetch(`${url}/api/products`)).status).toBe(503);
      // Reconnect attempts back off from 50 ms: by now every Redis client has failed more than once.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      expect(await server.stop()).toBe(0);
    }
    // A log shipper reads one JSON object per line: nothing (ioredis' unheard errors) writes around it.
    const lines = server.output.split('\n').filter(Boolean);
    expect(lines.filter((line) => !line.startsWith('{'))).toEqual([]);
    expect(lines.some((line) => line.includes('ECONNREFUSED 127.0.0.1:1'))).toBe(true); // logged, as JSON
  });

  it('starts the worker with Redis unreachable, says so, and stops it at once on SIGTERM', async () => {
    const worker = new NestorProcess('worker', {
      DATABASE_URL: db.url,
      REDIS_URL: 'redis://127.0.0.1:1',
      DATA_DIR: dataDir,
    });
    try {
      // It used to wait for Redis inside the boot, silently (the log is buffered until the boot ends).
      await worker.waitFor('Nestor worker ready');
      expect(worker.output).toContain('Schedules not reconciled yet');
      expect(worker.output).toMatch(/"msg":"(Worker|Queue) [\w.-]+: connect ECONNREFUSED/);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      const start = Date.now();
      expect(await worker.stop()).toBe(0);
      expect(Date.now() - start).toBeLessThan(5_000); // not JOBS_SHUTDOWN_TIMEOUT waiting for Redis
    }
    expect(worker.output.split('\n').filter((line) => line && !line.startsWith('{'))).toEqual([]);
    // Each queue, worker and live-update connection reports every reconnect: said once per outage (one
    // line for the jobs' connections, one for live updates'). It was 98 lines at the boot alone.
    expect(worker.output.match(/ECONNREFUSED/g)?.length).toBeLessThanOrEqual(3);
  });

  it('says once when Redis, away at start, answers again, and runs from then on', async () => {
    // Redis behind a proxy that refuses connections until restored.
    const proxy = await FrozenProxy.start(6379);
    await proxy.cut();
    const prefix = `nestortest${randomBytes(4).toString('hex')}`;
    const worker = new NestorProcess('worker', {
      DATABASE_URL: db.url,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      JOBS_PREFIX: prefix,
      DATA_DIR: dataDir,
    });
    try {
      await worker.waitFor('Nestor worker ready');
      await proxy.restore();
      await worker.waitFor('The job backend is reachable again after', 10_000);
      await worker.waitFor("Live updates' Redis is reachable again after", 10_000);
      expect(worker.output).toMatch(
        /"msg":"The job backend is reachable again after \d+ s \(\d+ errors while it was not\)"/,
      );
    } finally {
      expect(await worker.stop()).toBe(0);
      await proxy.close();
      await deleteRedisKeys('redis://127.0.0.1:6379', prefix);
    }
  });

  it('says once when PostgreSQL, holding the jobs, answers again after an outage', async () => {
    // The PostgreSQL job backend, its server behind a proxy that drops every connection when cut.
    const proxy = await FrozenProxy.start(Number(new URL(db.url).port || 5432));
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const worker = new NestorProcess('worker', {
      DATABASE_URL: url.toString(),
      JOBS_BACKEND: 'postgres',
      DATA_DIR: dataDir,
    });
    try {
      await worker.waitFor('Nestor worker ready');
      const before = worker.output.length;
      await proxy.cut();
      await worker.waitFor('Connection terminated unexpectedly');
      // Long enough for several outbox sweeps (every 2 s) to fail.
      await sleep(7_000);
      await proxy.restore();
      await worker.waitFor('The job backend is reachable again after', 15_000);
      await worker.waitFor('The job outbox is reachable again after', 15_000);
      const during = worker.output.slice(before);
      expect(during).toMatch(
        /"msg":"The job backend is reachable again after \d+ s \(\d+ errors? while it was not\)"/,
      );
      // Said once, not every 2 s.
      expect(during.match(/Outbox sweep failed/g)).toHaveLength(1);
    } finally {
      expect(await worker.stop()).toBe(0);
      await proxy.close();
    }
  });

  it('answers the worker probes on WORKER_HEALTH_PORT with the API readiness checks', async () => {
    expect(cli(['migrate'], { DATABASE_URL: db.url, DATA_DIR: dataDir }).status).toBe(0);
    const [up, down] = [await freePort(), await freePort()];
    const worker = new NestorProcess('worker', {
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      WORKER_HEALTH_PORT: String(up),
    });
    const away = new NestorProcess('worker', {
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      REDIS_URL: 'redis://127.0.0.1:1',
      WORKER_HEALTH_PORT: String(down),
    });
    try {
      await Promise.all([worker.waitFor('Nestor worker ready'), away.waitFor('Nestor worker ready')]);
      expect(worker.output).toContain(`Probes: http://127.0.0.1:${up}/health/ready`);
      const live = await fetch(`http://127.0.0.1:${up}/health/live`);
      expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await fetch(`http://127.0.0.1:${up}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' }, migrations: { status: 'up' } },
      });
      // Redis away: not ready, as a problem naming it; still alive.
      const notReady = await fetch(`http://127.0.0.1:${down}/health/ready`);
      expect(notReady.status).toBe(503);
      expect(notReady.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(await notReady.json()).toMatchObject({
        type: 'urn:nestor:problem:dependency-unavailable',
        status: 503,
        detail: 'Not ready: redis',
        instance: '/health/ready',
        checks: { redis: { status: 'down' }, database: { status: 'up' } },
      });
      expect((await fetch(`http://127.0.0.1:${down}/health/live`)).status).toBe(200);
      // Nothing else is served there.
      const other = await fetch(`http://127.0.0.1:${up}/api/products`);
      expect([other.status, other.headers.get('content-type')]).toEqual([
        404,
        'application/problem+json; charset=utf-8',
      ]);
      const post = await fetch(`http://127.0.0.1:${up}/health/live`, { method: 'POST' });
      expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    } finally {
      expect(await Promise.all([worker.stop(), away.stop()])).toEqual([0, 0]);
    }
  });

  it('turns the worker readiness red from SIGTERM on while it waits for its jobs, liveness still green', async () => {
    const proxy = await FrozenProxy.start(6379);
    const port = await freePort();
    const prefix = `nestortest${randomBytes(4).toString('hex')}`;
    const worker = new NestorProcess('worker', {
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      JOBS_PREFIX: prefix,
      WORKER_HEALTH_PORT: String(port),
    });
    try {
      await worker.waitFor('Nestor worker ready');
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
      // A Redis that stops answering holds the shutdown in bullmq's close: the probes are asked meanwhile.
      proxy.freeze();
      worker.child.kill('SIGTERM');
      await worker.waitFor('SIGTERM received');
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        checks: { shutdown: { status: 'down', message: 'shutting down' } },
      });
      expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
      proxy.thaw();
      expect(await worker.exited).toBe(0);
    } finally {
      await worker.stop();
      await proxy.close();
      await deleteRedisKeys('redis://127.0.0.1:6379', prefix);
    }
  });

  it('runs the worker on the same composition and exits cleanly on SIGTERM', async () => {
    const worker = new NestorProcess('worker', { DATABASE_URL: db.url, DATA_DIR: dataDir });
    await worker.waitFor('Nestor worker ready');
    expect(await worker.stop()).toBe(0);
  });

  it('fails makemigrations --check and generates the missing migration when entities and migrations disagree', () => {
    // A copy of the build without the app's migrations: its entities now need SQL no migration provides,
    // while the framework's tables still come from the framework's migrations, never from makemigrations.
    const { dist: copy, command: script } = copyBuild(join(ROOT, '.tmp'));
    try {
      rmSync(join(copy, 'migrations'), { recursive: true, force: true });
      const env = { DATA_DIR: dataDir };
      const check = cli(['makemigrations', '--check'], env, script);
      expect(check.status).toBe(1);
      expect(check.output).toContain('NST-M003');
      expect(check.output).toContain('CREATE TABLE "category"');
      expect(check.output).toContain('REFERENCES "user"("id")');
      expect(check.output).not.toMatch(/(CREATE|ALTER) TABLE "(user|permission|job_outbox|audit_entry)"/);

      const out = join(copy, 'generated');
      const generate = cli(['makemigrations', 'add-catalog', '--dir', out], env, script);
      expect(generate.status).toBe(0);
      const [file] = readdirSync(out);
      expect(file).toMatch(/^\d{13}-AddCatalog\.ts$/);
      const source = readFileSync(join(out, file), 'utf8');
      expect(source).toMatch(/export class AddCatalog\d{13} implements MigrationInterface/);
      expect(source).toContain('CREATE TABLE "category"');
      expect(source).toContain('DROP TABLE "category"');
    } finally {
      rmSync(dirname(copy), { recursive: true, force: true });
    }
  });

  it('keeps embedded data across restarts and locks the data directory against a second server', async () => {
    const embeddedDir = mkdtempSync(join(tmpdir(), 'nestor-embedded-proc-'));
    try {
      const port = String(await freePort());
      const first = new NestorProcess('main', { DATA_DIR: embeddedDir, PORT: port });
      // A new embedded database is created first (initdb and every migration: about 8 s of CPU).
      await first.waitFor('Nestor is listening', 60_000);
      expect(first.output).toContain(`Database:   embedded PGlite (${embeddedDir}/pglite)`);
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);

      // A command borrows the running server's database through its socket; a second server may not open it.
      expect(cli(['showmigrations'], { DATA_DIR: embeddedDir })).toMatchObject({
        status: 0,
        output: expect.stringMatching(
          /\[X\] nestor\.NestorInitial\d+\n(\[X\] nestor\.\w+\n)*\[X\] ShopInitial\d+/,
        ),
      });
      const locked = new NestorProcess('main', { DATA_DIR: embeddedDir, PORT: String(await freePort()) });
      expect(await locked.exited).toBe(1);
      expect(locked.output).toContain('NST-D002');
      expect(await first.stop()).toBe(0);

      expect(cli(['showmigrations'], { DATA_DIR: embeddedDir }).output).toMatch(/\[X\] ShopInitial\d+/);
      const second = new NestorProcess('main', { DATA_DIR: embeddedDir, PORT: port });
      await second.waitFor('Nestor is listening');
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
      expect(await second.stop()).toBe(0);
    } finally {
      rmSync(embeddedDir, { recursive: true, force: true });
    }
  }, 120_000);
});
