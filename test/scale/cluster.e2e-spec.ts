import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { haproxyCommand, serverStatus, startHaproxy, writeLoopbackConfig } from 'test/support/haproxy.mjs';
import { NestorProcess, ROOT, cli, ensureBuild, freePort } from 'test/support/processes';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';
import { sleep, waitFor } from 'test/support/wait';

/**
 * Issue 20 §4: scale-out as it runs in production, on loopback: 3 API processes and 2 workers of the built
 * app on one PostgreSQL database and one Redis key prefix of this file's own, behind HAProxy with the
 * shipped configuration (deploy/haproxy/haproxy.cfg), under a steady load from autocannon. Figures are
 * printed for the closing note.
 */
const ADMIN = { email: 'scale@example.com', password: 'scale-test-password' };
/** The user budget every process enforces, shared through Redis. */
const USER_BUDGET = 30;
/** HAProxy's check interval (deploy/haproxy/haproxy.cfg: `inter 1s … fall 2`). */
const CHECK_INTERVAL_MS = 1_000;
const LOAD_PATH = '/api/products?limit=5&sort=-price';
const FAULT_APP = join(ROOT, 'test', 'support', 'fault-app.js');

let db: TestDatabase;
let sql: Client;
let dataDir: string;
let prefix: string;
let proxyPort: number;
let statsSocket: string;
let proxy: { child: ChildProcess; output: () => string };
const apiPorts: number[] = [];
const api: NestorProcess[] = [];
const workers: NestorProcess[] = [];
const everyProcess: NestorProcess[] = [];

function appEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    JOBS_PREFIX: prefix,
    DATA_DIR: dataDir,
    NODE_ENV: 'production',
    SECRET_KEY: 's'.repeat(40),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JOBS_LOCK_DURATION: '2000',
    // Longer than HAProxy takes to mark a draining process down (2 checks, 1 s apart).
    SHUTDOWN_DRAIN_MS: '3000',
    // The load is anonymous and unlimited; the budget under test is the signed-in user's.
    RATE_LIMIT_ANON: 'off',
    RATE_LIMIT_USER: `${USER_BUDGET}/minute`,
    ...extra,
  };
}

/** An API process on `port`; resolves once it answers ready. */
async function bootApi(port: number): Promise<NestorProcess> {
  // Request logs off: at this rate they would measure the pipe, not the app.
  const proc = new NestorProcess(
    [FAULT_APP, 'http'],
    appEnv({ PORT: String(port), WORKERS: 'off', LOG_LEVEL: 'warn' }),
  );
  everyProcess.push(proc);
  await waitFor(
    `the API process on port ${port} to be ready`,
    async () => {
      if (proc.child.exitCode !== null) {
        throw new Error(`the API process on port ${port} exited ${proc.child.exitCode}:\n${proc.output}`);
      }
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
      return res?.status === 200;
    },
    90_000,
  );
  return proc;
}

/** API process `i` (HAProxy's `api<i+1>`) on its port. */
async function startApi(i: number): Promise<NestorProcess> {
  api[i] = await bootApi(apiPorts[i]);
  return api[i];
}

async function startWorker(i: number): Promise<NestorProcess> {
  const proc = new NestorProcess([FAULT_APP, 'worker'], appEnv({ FAULT_CONCURRENCY: '4' }));
  everyProcess.push(proc);
  await proc.waitFor('Nestor worker ready', 60_000);
  workers[i] = proc;
  return proc;
}

const statusOf = async (server: string): Promise<string> =>
  (await serverStatus(statsSocket)).get(server) ?? 'missing';

/** Milliseconds until HAProxy reports `server` in a status starting with `wanted`. */
async function timeUntil(server: string, wanted: 'UP' | 'DOWN', timeoutMs = 20_000): Promise<number> {
  const since = Date.now();
  await waitFor(`${server} ${wanted}`, async () => (await statusOf(server)).startsWith(wanted), timeoutMs);
  return Date.now() - since;
}

interface Load {
  /** Requests answered, whatever the status. */
  answered: number;
  /** Connection errors and timeouts, plus answers other than 200. */
  failed: number;
  errors: number;
  statuses: Record<string, number>;
}

/** A steady anonymous read load through HAProxy while `during` runs; resolves with its outcome. */
async function underLoad(during: () => Promise<void>): Promise<Load> {
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: `http://127.0.0.1:${proxyPort}${LOAD_PATH}`,
        connections: 8,
        overallRate: 100,
        duration: 600,
        timeout: 10,
      },
      (error, result) => (error ? reject(error as Error) : resolve(result)),
    );
  });
  try {
    await sleep(2_000); // steady state first
    await during();
    await sleep(2_000);
  } finally {
    instance!.stop();
  }
  const result = await finished;
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
    statuses[code] = stat?.count ?? 0;
  }
  const answered = Object.values(statuses).reduce((sum, n) => sum + n, 0);
  // A connection error or timeout (`errors` counts both), or an answer other than 200.
  const failed = result.errors + answered - (statuses['200'] ?? 0);
  return { answered, failed, errors: result.errors, statuses };
}

beforeAll(async () => {
  ensureBuild();
  db = await createTestDatabase('nestor_scale');
  prefix = `scale-${randomBytes(3).toString('hex')}`;
  dataDir = mkdtempSync(join(tmpdir(), 'nestor-scale-'));
  sql = new Client({ connectionString: db.url });
  await sql.connect();
  // Migrations run once, before the processes start, as a deploy does (the production processes do not).
  expect(cli(['migrate'], appEnv())).toMatchObject({ status: 0 });
  expect(cli(['seed', '--count', '20', '--force'], appEnv())).toMatchObject({ status: 0 });
  // The jobs' effect table has no unique key, so an effect that happened twice shows as two rows.
  await sql.query(
    `CREATE TABLE fault_effect (key varchar(200) NOT NULL, "jobId" varchar(100) NOT NULL,
      pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  );
  for (let i = 0; i < 3; i++) {
    apiPorts.push(await freePort());
  }
  await Promise.all([startApi(0), startApi(1), startApi(2), startWorker(0), startWorker(1)]);
  proxyPort = await freePort();
  statsSocket = join(dataDir, 'haproxy.sock');
  const config = join(dataDir, 'haproxy.cfg');
  writeLoopbackConfig(config, apiPorts);
  proxy = await startHaproxy(
    config,
    {
      HAPROXY_BIND: `127.0.0.1:${proxyPort}`,
      HAPROXY_STATS_BIND: `127.0.0.1:${await freePort()}`,
      HAPROXY_STATS_SOCKET: statsSocket,
    },
    proxyPort,
  );
  for (const server of ['api1', 'api2', 'api3']) {
    await timeUntil(server, 'UP');
  }
}, 180_000);

afterAll(async () => {
  proxy?.child.kill('SIGKILL');
  await Promise.all(everyProcess.map((p) => p.stop('SIGKILL')));
  await sql?.end();
  await db?.drop();
  await deleteRedisKeys(TEST_REDIS_URL, prefix);
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('3 API processes and 2 workers behind HAProxy', () => {
  it('kill -9 of one API process: < 0.1% failed requests, marked down within the check interval, rejoins', async () => {
    let downMs = 0;
    let rejoinMs = 0;
    const load = await underLoad(async () => {
      expect(await api[0].stop('SIGKILL')).toBeNull();
      downMs = await timeUntil('api1', 'DOWN');
      await sleep(2_000); // served by two processes for a while
      const restartedAt = Date.now();
      await startApi(0);
      await timeUntil('api1', 'UP');
      rejoinMs = Date.now() - restartedAt;
    });
    process.stdout.write(
      `API kill -9: ${load.answered + load.errors} requests, ${load.failed} failed (${load.errors} connection ` +
        `errors, statuses ${JSON.stringify(load.statuses)}); ` +
        `marked DOWN ${downMs} ms after the kill; UP again ${rejoinMs} ms after the restart began\n`,
    );
    expect(load.answered).toBeGreaterThan(500);
    expect(load.failed / (load.answered + load.errors)).toBeLessThan(0.001);
    // Two failed checks (`fall 2`), the second at `fastinter`: within the 1 s interval's two checks.
    expect(downMs).toBeLessThanOrEqual(2 * CHECK_INTERVAL_MS);
    expect(await statusOf('api1')).toBe('UP');
  }, 150_000);

  it('rolling SIGTERM restart of all three: 0 failed requests, each drains while marked down, then exits 0', async () => {
    const downs: number[] = [];
    const exits: (number | null)[] = [];
    const load = await underLoad(async () => {
      // As a rolling update with surge does: the new processes boot beside the old ones, on ports of their
      // own, and each takes its predecessor's place in HAProxy (the runtime API's `set server … addr`).
      const ports = [await freePort(), await freePort(), await freePort()];
      const replacements = await Promise.all(ports.map((port) => bootApi(port)));
      for (let i = 0; i < 3; i++) {
        const old = api[i];
        const exited = old.stop('SIGTERM');
        // Readiness fails first, while the process still serves: HAProxy takes it out before it closes.
        downs.push(await timeUntil(`api${i + 1}`, 'DOWN'));
        expect(old.child.exitCode).toBeNull();
        await haproxyCommand(statsSocket, `set server api/api${i + 1} addr 127.0.0.1 port ${ports[i]}`);
        await timeUntil(`api${i + 1}`, 'UP');
        exits.push(await exited);
        [api[i], apiPorts[i]] = [replacements[i], ports[i]];
      }
    });
    process.stdout.write(
      `Rolling SIGTERM ×3: ${load.answered + load.errors} requests, ${load.failed} failed (${load.errors} ` +
        `connection errors, statuses ${JSON.stringify(load.statuses)}); ` +
        `marked DOWN ${downs.join(', ')} ms after SIGTERM, still serving; exit codes ${exits.join(', ')}\n`,
    );
    expect(load.answered).toBeGreaterThan(1000);
    expect(load.failed).toBe(0);
    expect(exits).toEqual([0, 0, 0]);
  }, 180_000);

  it('the request budget holds across processes: one user gets it once, not once per process', async () => {
    const login = await fetch(`http://127.0.0.1:${proxyPort}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const perProcess = apiPorts.map(() => ({ ok: 0, refused: 0 }));
    // Round robin straight to each process: three times the budget in all.
    for (let n = 0; n < 3 * USER_BUDGET; n++) {
      const i = n % 3;
      const res = await fetch(`http://127.0.0.1:${apiPorts[i]}/api/auth/me`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect([200, 429]).toContain(res.status);
      perProcess[i][res.status === 200 ? 'ok' : 'refused']++;
      await res.arrayBuffer();
    }
    const allowed = perProcess.reduce((sum, p) => sum + p.ok, 0);
    process.stdout.write(
      `Request budget ${USER_BUDGET}/minute, ${3 * USER_BUDGET} requests over 3 processes: ${allowed} allowed ` +
        `(${perProcess.map((p) => `${p.ok} ok/${p.refused} refused`).join(', ')})\n`,
    );
    expect(allowed).toBe(USER_BUDGET);
    expect(perProcess.every((p) => p.refused > 0)).toBe(true);
  });

  it('kill -9 of one worker while jobs run: 0 jobs lost, 0 duplicate effects', async () => {
    const enqueuer = api[0];
    const keys: string[] = [];
    const inFlight = (proc: NestorProcess): string[] => {
      const started = [...proc.output.matchAll(/fault-job start (\S+)/g)].map((m) => m[1]);
      const done = new Set([...proc.output.matchAll(/fault-job done (\S+)/g)].map((m) => m[1]));
      return started.filter((key) => !done.has(key));
    };
    const timer = setInterval(() => {
      const key = `scale-${keys.length + 1}`;
      keys.push(key);
      enqueuer.child.stdin!.write(`enqueue ${key} ${300 + Math.floor(Math.random() * 500)}\n`);
    }, 100);
    let cut: string[];
    try {
      await waitFor('worker 1 to be mid-job', () => inFlight(workers[0]).length > 0, 30_000);
      cut = inFlight(workers[0]);
      expect(await workers[0].stop('SIGKILL')).toBeNull();
      const replacement = startWorker(0);
      await sleep(3_000);
      await replacement;
    } finally {
      clearInterval(timer);
    }
    await waitFor('every enqueue to commit', () =>
      keys.every((key) => enqueuer.output.includes(`fault-enqueued ${key} `)),
    );
    const effects = async (): Promise<Map<string, number>> => {
      const { rows } = await sql.query<{ key: string; n: string }>(
        'SELECT key, count(*) AS n FROM fault_effect GROUP BY key',
      );
      return new Map(rows.map((r) => [r.key, Number(r.n)]));
    };
    // A cut job runs again once its 2 s lock expires.
    await waitFor('every job to have its effect', async () => (await effects()).size >= keys.length, 60_000);
    const done = await effects();
    const lost = keys.filter((key) => !done.has(key));
    const duplicates = [...done].filter(([, n]) => n > 1);
    process.stdout.write(
      `Worker kill -9 with ${cut.length} jobs mid-run: ${keys.length} jobs enqueued, ${done.size} with their ` +
        `effect, ${lost.length} lost, ${duplicates.length} duplicate effects\n`,
    );
    expect(cut.length).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    expect(duplicates).toEqual([]);
    expect(done.size).toBe(keys.length);
  }, 150_000);
});
