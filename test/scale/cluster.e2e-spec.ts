import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { haproxyCommand, serverStatus, startHaproxy, writeLoopbackConfig } from 'test/support/haproxy.mjs';
import {
  CLI,
  NestorProcess,
  ROOT,
  childEnv,
  cli,
  ensureBuild,
  freePort,
  runNode,
} from 'test/support/processes';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';
import { sleep, waitFor } from 'test/support/wait';

/**
 * Issue 20 §4: scale-out as it runs in production, on loopback: 3 API processes and 2 workers of the built
 * app on one PostgreSQL database and one Redis key prefix of this file's own, behind HAProxy with the
 * shipped configuration (deploy/haproxy/haproxy.cfg), under a steady load from autocannon. The figures
 * (requests sent and failed, times to mark down and rejoin, the budget seen across processes, stale reads,
 * jobs) are printed together at the end for the closing note.
 */
const ADMIN = { email: 'scale@example.com', password: 'scale-test-password' };
/** The seed's staff user (`nestor seed`, seed 1): may change products, is not a superuser. */
const STAFF = { email: 'staff.s1@example.com', password: 'demo-password-1' };
/**
 * The user budget every process enforces, shared through Redis. Big enough for the stale-read test's
 * writes (the staff user's own budget); the budget test spends the admin's, three times over.
 */
const USER_BUDGET = 200;
/** Write-then-read rounds of the stale-read test: straight to the processes, then through HAProxy. */
const STALE_ROUNDS = 40;
const LOAD_PATH = '/api/products?limit=5&sort=-price';
const FAULT_APP = join(ROOT, 'test', 'support', 'fault-app.js');
const JOBS_LOCK_MS = 2_000;

/**
 * The longest HAProxy may take to mark a dead server down, from the shipped configuration's
 * `default-server inter … fastinter … fall …`: the next check comes within `inter`, and `fall - 1` more
 * follow `fastinter` apart.
 */
function detectionWindowMs(): number {
  const cfg = readFileSync(join(ROOT, 'deploy', 'haproxy', 'haproxy.cfg'), 'utf8');
  const line = /^\s*default-server\s+(.*)$/m.exec(cfg)?.[1] ?? '';
  const setting = (name: string): string => new RegExp(`\\b${name}\\s+(\\S+)`).exec(line)?.[1] ?? '';
  const ms = (value: string): number =>
    value.endsWith('ms') ? parseInt(value, 10) : parseFloat(value) * 1000;
  const [inter, fastinter, fall] = [ms(setting('inter')), ms(setting('fastinter')), Number(setting('fall'))];
  expect([inter, fastinter, fall].every((n) => n > 0)).toBe(true);
  return inter + (fall - 1) * fastinter;
}
/** What the test adds to HAProxy's time: the stats socket is polled every 25 ms, through the event loop. */
const POLL_MARGIN_MS = 250;

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
/** The figures for the closing note, printed together after the last test. */
const figures: string[] = [];
const suiteStart = Date.now();
const figure = (line: string): void => {
  figures.push(line);
  process.stdout.write(`${line}\n`);
};

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
    JOBS_LOCK_DURATION: String(JOBS_LOCK_MS),
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

/** Worker `i`, in `workers` at once (its output can be watched while it boots); resolves once it is ready. */
async function startWorker(i: number): Promise<NestorProcess> {
  const proc = new NestorProcess([FAULT_APP, 'worker'], appEnv({ FAULT_CONCURRENCY: '4' }));
  everyProcess.push(proc);
  workers[i] = proc;
  await proc.waitFor('Nestor worker ready', 60_000);
  return proc;
}

const statusOf = async (server: string): Promise<string> =>
  (await serverStatus(statsSocket)).get(server) ?? 'missing';

/** Milliseconds from `since` until HAProxy reports `server` in a status starting with `wanted`. */
async function timeUntil(
  server: string,
  wanted: 'UP' | 'DOWN',
  since = Date.now(),
  timeoutMs = 20_000,
): Promise<number> {
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

const describeLoad = (load: Load): string =>
  `${load.answered + load.errors} requests, ${load.failed} failed (${load.errors} connection errors, ` +
  `statuses ${JSON.stringify(load.statuses)})`;

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
    await sleep(1_000); // steady state first
    await during();
    await sleep(1_000);
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

async function signIn(user: { email: string; password: string }): Promise<string> {
  const login = await fetch(`http://127.0.0.1:${proxyPort}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(user),
  });
  expect(login.status).toBe(200);
  return ((await login.json()) as { accessToken: string }).accessToken;
}

/** The resource cache's products hits and misses, summed over the API processes (`/metrics`). */
async function cacheCounts(): Promise<{ hits: number; misses: number }> {
  const counts = { hits: 0, misses: 0 };
  for (const port of apiPorts) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const kind of ['hits', 'misses'] as const) {
      const found = new RegExp(`nestor_resource_cache_${kind}_total\\{resource="products"\\} (\\d+)`).exec(
        text,
      );
      counts[kind] += Number(found?.[1] ?? 0);
    }
  }
  return counts;
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
  // The jobs' effect table has no unique key, so an effect that happened twice shows as two rows.
  await sql.query(
    `CREATE TABLE fault_effect (key varchar(200) NOT NULL, "jobId" varchar(100) NOT NULL,
      pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  );
  for (let i = 0; i < 3; i++) {
    apiPorts.push(await freePort());
  }
  proxyPort = await freePort();
  statsSocket = join(dataDir, 'haproxy.sock');
  const config = join(dataDir, 'haproxy.cfg');
  writeLoopbackConfig(config, apiPorts);
  // Everything at once: the seed beside the processes' boot (they only need the schema), and HAProxy
  // checking them from the start.
  const seeded = runNode([...CLI, 'seed', '--count', '20', '--force'], {
    env: childEnv(appEnv()),
  });
  const statsPort = await freePort();
  const [seed] = await Promise.all([
    seeded,
    startApi(0),
    startApi(1),
    startApi(2),
    startWorker(0),
    startWorker(1),
    startHaproxy(
      config,
      {
        HAPROXY_BIND: `127.0.0.1:${proxyPort}`,
        HAPROXY_STATS_BIND: `127.0.0.1:${statsPort}`,
        HAPROXY_STATS_SOCKET: statsSocket,
      },
      proxyPort,
    ).then((started) => (proxy = started)),
  ]);
  expect(seed).toMatchObject({ ok: true });
  for (const server of ['api1', 'api2', 'api3']) {
    await timeUntil(server, 'UP');
  }
  process.stdout.write(`Cluster up in ${Date.now() - suiteStart} ms\n`);
}, 180_000);

afterAll(async () => {
  process.stdout.write(
    `\nScale test figures (${Math.round((Date.now() - suiteStart) / 1000)} s in all):\n` +
      figures.map((line) => `- ${line}\n`).join(''),
  );
  proxy?.child.kill('SIGKILL');
  await Promise.all(everyProcess.map((p) => p.stop('SIGKILL')));
  await sql?.end();
  await db?.drop();
  await deleteRedisKeys(TEST_REDIS_URL, prefix);
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('3 API processes and 2 workers behind HAProxy', () => {
  it('kill -9 of one API process: < 0.1% failed requests, marked down within the check interval, rejoins', async () => {
    const window = detectionWindowMs();
    let downMs = 0;
    let rejoinMs = 0;
    const load = await underLoad(async () => {
      const killedAt = Date.now();
      expect(await api[0].stop('SIGKILL')).toBeNull();
      downMs = await timeUntil('api1', 'DOWN', killedAt);
      // Served by the two others while it boots again.
      const restartedAt = Date.now();
      await startApi(0);
      rejoinMs = await timeUntil('api1', 'UP', restartedAt);
    });
    figure(
      `API kill -9: ${describeLoad(load)}; marked DOWN ${downMs} ms after the kill (HAProxy's window ` +
        `${window} ms); UP again ${rejoinMs} ms after the restart began`,
    );
    expect(load.answered).toBeGreaterThan(500);
    expect(load.failed / (load.answered + load.errors)).toBeLessThan(0.001);
    expect(downMs).toBeLessThanOrEqual(window + POLL_MARGIN_MS);
    expect(await statusOf('api1')).toBe('UP');
  }, 150_000);

  it('rolling SIGTERM restart of all three: 0 failed requests, each drains while marked down, then exits 0', async () => {
    const downs: number[] = [];
    const exits: Promise<number | null>[] = [];
    const load = await underLoad(async () => {
      // As a rolling update with surge does: the new processes boot beside the old ones, on ports of their
      // own, and each takes its predecessor's place in HAProxy (the runtime API's `set server … addr`).
      const ports = [await freePort(), await freePort(), await freePort()];
      const replacements = await Promise.all(ports.map((port) => bootApi(port)));
      for (let i = 0; i < 3; i++) {
        const old = api[i];
        const signalledAt = Date.now();
        exits.push(old.stop('SIGTERM'));
        // Readiness fails first, while the process still serves: HAProxy takes it out before it closes.
        downs.push(await timeUntil(`api${i + 1}`, 'DOWN', signalledAt));
        expect(old.child.exitCode).toBeNull();
        await haproxyCommand(statsSocket, `set server api/api${i + 1} addr 127.0.0.1 port ${ports[i]}`);
        await timeUntil(`api${i + 1}`, 'UP');
        // The next one may go while this one finishes its drain: its replacement serves already.
        [api[i], apiPorts[i]] = [replacements[i], ports[i]];
      }
      await Promise.all(exits);
    });
    const codes = await Promise.all(exits);
    figure(
      `Rolling SIGTERM ×3: ${describeLoad(load)}; marked DOWN ${downs.join(', ')} ms after SIGTERM, still ` +
        `serving; exit codes ${codes.join(', ')}`,
    );
    expect(load.answered).toBeGreaterThan(1000);
    expect(load.failed).toBe(0);
    expect(codes).toEqual([0, 0, 0]);
  }, 180_000);

  it('the request budget holds across processes: one user gets it once, not once per process', async () => {
    const accessToken = await signIn(ADMIN);
    const perProcess = apiPorts.map(() => ({ ok: 0, refused: 0 }));
    // Straight to each process, one request to each at a time: three times the budget in all.
    for (let round = 0; round < USER_BUDGET; round++) {
      await Promise.all(
        apiPorts.map(async (port, i) => {
          const res = await fetch(`http://127.0.0.1:${port}/api/auth/me`, {
            headers: { authorization: `Bearer ${accessToken}` },
          });
          expect([200, 429]).toContain(res.status);
          perProcess[i][res.status === 200 ? 'ok' : 'refused']++;
          await res.arrayBuffer();
        }),
      );
    }
    const allowed = perProcess.reduce((sum, p) => sum + p.ok, 0);
    figure(
      `Request budget ${USER_BUDGET}/minute, ${3 * USER_BUDGET} requests over 3 processes: ${allowed} allowed ` +
        `(${perProcess.map((p) => `${p.ok} ok/${p.refused} refused`).join(', ')})`,
    );
    expect(allowed).toBe(USER_BUDGET);
    expect(perProcess.every((p) => p.refused > 0)).toBe(true);
  });

  it("a write through one process is never answered stale by another's cache, even for one request", async () => {
    const token = await signIn(STAFF);
    const list = (await (await fetch(`http://127.0.0.1:${proxyPort}/api/products?limit=1`)).json()) as {
      data: { id: number; sku: string }[];
    };
    const { id, sku } = list.data[0];
    const item = `/api/products/${id}`;
    const listed = `/api/products?filter[sku]=${encodeURIComponent(sku)}&fields=id,stock`;
    const stale: string[] = [];
    /** Reads made after a write, each checked. */
    let reads = 0;
    /** One read on `port`, with the stock it shows. */
    const check = async (port: number, path: string, stock: number, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
      const text = await res.text(); // none on a 304
      const body = (text ? JSON.parse(text) : {}) as { stock?: number; data?: { stock: number }[] };
      return { res, stock: body.data ? body.data[0]?.stock : body.stock, expected: stock };
    };
    /** Stale unless the read answered 200 with the written `expected` stock and the write's `etag`. */
    const flag = (what: string, seen: { res: Response; stock?: number; expected: number }, etag?: string) => {
      reads++;
      const etagSeen = seen.res.headers.get('etag');
      if (seen.res.status !== 200 || seen.stock !== seen.expected || (etag && etagSeen !== etag)) {
        stale.push(
          `${what}: ${seen.res.status} stock ${seen.stock} (wrote ${seen.expected}), etag ${etagSeen}`,
        );
      }
    };
    /**
     * Reads on `reader` (filling its cache with the current answer), writes through `writer`, then at once
     * reads on `reader` again: the item (with the ETag it had before: a stale cache would answer 304), the
     * filtered list, and the item as the staff user (a cache entry of its own).
     */
    const round = async (n: number, writer: number, reader: number, asStaff: boolean) => {
      const before = await check(reader, item, NaN);
      expect(before.res.status).toBe(200);
      const oldEtag = before.res.headers.get('etag')!;
      await check(reader, listed, NaN);
      if (asStaff) {
        await check(reader, item, NaN, { authorization: `Bearer ${token}` });
      }
      const stock = 1000 + n;
      const write = await fetch(`http://127.0.0.1:${writer}${item}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ stock }),
      });
      expect(write.status).toBe(200);
      const etag = write.headers.get('etag')!;
      expect(etag).not.toBe(oldEtag);
      await write.arrayBuffer();
      flag(`round ${n} item`, await check(reader, item, stock, { 'if-none-match': oldEtag }), etag);
      flag(`round ${n} list`, await check(reader, listed, stock));
      if (asStaff) {
        flag(
          `round ${n} staff item`,
          await check(reader, item, stock, { authorization: `Bearer ${token}` }),
          etag,
        );
      }
    };
    const cacheBefore = await cacheCounts();
    let rounds = 0;
    const load = await underLoad(async () => {
      // Process A writes, process B reads: each pair of the three in turn.
      for (let n = 0; n < STALE_ROUNDS; n++, rounds++) {
        await round(rounds, apiPorts[n % 3], apiPorts[(n + 1) % 3], true);
      }
      // Through HAProxy: round robin sends the write and the reads to whichever process comes next.
      for (let n = 0; n < STALE_ROUNDS; n++, rounds++) {
        await round(rounds, proxyPort, proxyPort, false);
      }
    });
    const cacheAfter = await cacheCounts();
    const [hits, misses] = [cacheAfter.hits - cacheBefore.hits, cacheAfter.misses - cacheBefore.misses];
    figure(
      `Stale reads: ${stale.length} of ${reads} reads right after ${rounds} writes (${STALE_ROUNDS} process A → ` +
        `process B, ${STALE_ROUNDS} through HAProxy), under load (${describeLoad(load)}); products cache ` +
        `${hits} hits, ${misses} misses meanwhile`,
    );
    expect(stale).toEqual([]);
    expect(hits).toBeGreaterThan(0); // the cache was in the way
  }, 120_000);

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
        `SELECT key, count(*) AS n FROM fault_effect WHERE key LIKE 'scale-%' GROUP BY key`,
      );
      return new Map(rows.map((r) => [r.key, Number(r.n)]));
    };
    // A cut job runs again once its 2 s lock expires.
    await waitFor('every job to have its effect', async () => (await effects()).size >= keys.length, 60_000);
    const done = await effects();
    const lost = keys.filter((key) => !done.has(key));
    const duplicates = [...done].filter(([, n]) => n > 1);
    figure(
      `Worker kill -9 with ${cut.length} jobs mid-run: ${keys.length} jobs enqueued, ${done.size} with their ` +
        `effect, ${lost.length} lost, ${duplicates.length} duplicate effects`,
    );
    expect(cut.length).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    expect(duplicates).toEqual([]);
    expect(done.size).toBe(keys.length);
  }, 150_000);

  it('a job cut short twice after its effect happened is settled completed, not failed, effect once', async () => {
    const key = 'cut-twice';
    const enqueuer = api[1];
    // Its effect commits at once, then it holds on for 3 s: the window to kill its worker in.
    enqueuer.child.stdin!.write(`enqueue ${key} 0 3000\n`);
    await enqueuer.waitFor(`fault-enqueued ${key} `, 10_000);
    const jobId = new RegExp(`fault-enqueued ${key} (\\S+)`).exec(enqueuer.output)![1];
    // The live worker past the job's effect: every worker that ran it before is dead, and replaced.
    const holder = (): NestorProcess | undefined =>
      workers.find((w) => w.output.includes(`fault-job done ${key} `));
    const cutAfterMs: number[] = [];
    const replacements: Promise<NestorProcess>[] = [];
    let since = Date.now();
    for (let cut = 0; cut < 2; cut++) {
      const worker = await waitFor(`a worker past the effect of ${key}`, holder, 20_000);
      cutAfterMs.push(Date.now() - since);
      expect(await worker.stop('SIGKILL')).toBeNull();
      since = Date.now();
      replacements.push(startWorker(workers.indexOf(worker))); // boots while the other takes the job back
    }
    const queue = new Queue('faults.slow', { connection: { host: '127.0.0.1', port: 6379 }, prefix });
    try {
      const state = await waitFor(
        `${key} to settle`,
        async () => {
          const now = await (await queue.getJob(jobId))?.getState();
          return now === 'completed' || now === 'failed' ? now : undefined;
        },
        30_000,
      );
      await Promise.all(replacements);
      const job = await queue.getJob(jobId);
      const { rows: effects } = await sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM fault_effect WHERE key = $1',
        [key],
      );
      const outbox = await waitFor('its outbox row to settle', async () => {
        const { rows } = await sql.query<{ finished: boolean; failed: boolean }>(
          `SELECT "finishedAt" IS NOT NULL AS finished, "failedAt" IS NOT NULL AS failed FROM job_outbox
            WHERE id = $1`,
          [jobId],
        );
        return rows[0]?.finished && rows[0];
      });
      const lastRun = /fault-job done \S+ effect=(\S+)/.exec(
        holder()?.output.slice(holder()!.output.indexOf(`fault-job done ${key} `)) ?? '',
      )?.[1];
      figure(
        `Job cut short twice after its effect (past it ${cutAfterMs[0]} ms after the enqueue, and again ` +
          `${cutAfterMs[1]} ms after the first kill -9, lock expiry included): ${state}, stalled ` +
          `${job?.stalledCounter} times, ` +
          `${effects[0].n} effect, outbox row ${outbox.failed ? 'failed' : 'finished'}; the third delivery ` +
          `ran to its end with effect=${lastRun} (already done)`,
      );
      expect(state).toBe('completed');
      expect(job?.failedReason ?? '').toBe('');
      expect(job?.stalledCounter).toBe(2);
      expect(effects[0].n).toBe(1);
      expect(outbox).toEqual({ finished: true, failed: false });
      expect(lastRun).toBe('false'); // the handler ran again and found its effect done
    } finally {
      await queue.close();
    }
  }, 90_000);
});
