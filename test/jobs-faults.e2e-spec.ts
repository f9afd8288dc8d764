import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createPostgresBackend, Queue, withBackend } from 'bullmq';
import { Client } from 'pg';
import { JobQueue, OnPostgres } from 'src/framework/jobs/backends/job-backend';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { NestorProcess, ROOT, ensureBuild, freePort } from 'test/support/processes';
import { RedisServer } from 'test/support/servers';
import { sleep, waitFor } from 'test/support/wait';

/**
 * Job faults with real processes (built dist/ plus test/support/fault-app.js), a real PostgreSQL database
 * and a Redis server of the test's own, which it stops and restarts: worker SIGKILL mid-job, SIGTERM
 * mid-job, Redis outage under a steady trickle of enqueues.
 */
const LOCK_MS = 2_000;

describe('Jobs under faults (real processes, real Redis and PostgreSQL)', () => {
  let db: TestDatabase;
  let pg: Client;
  let redis: RedisServer;
  const running: NestorProcess[] = [];

  beforeAll(async () => {
    ensureBuild();
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    // No unique key on purpose: an effect that happened twice shows as two rows.
    await pg.query(
      `CREATE TABLE fault_effect (key varchar(200) NOT NULL, "jobId" varchar(100) NOT NULL, pid int NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    redis = new RedisServer(await freePort());
    await redis.start();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await redis?.stop();
    await pg?.end();
    await db?.drop();
  });

  const env = (prefix: string, extra: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    JOBS_PREFIX: prefix,
    JOBS_LOCK_DURATION: String(LOCK_MS),
    ...extra,
  });

  async function start(role: 'worker' | 'http', vars: Record<string, string>): Promise<NestorProcess> {
    const proc = new NestorProcess([join(ROOT, 'test', 'support', 'fault-app.js'), role], vars);
    running.push(proc);
    await proc.waitFor(role === 'worker' ? 'Nestor worker ready' : 'Nestor is listening');
    return proc;
  }

  const enqueue = (proc: NestorProcess, key: string, ms: number, hold = 0): void => {
    proc.child.stdin!.write(`enqueue ${key} ${ms} ${hold}\n`);
  };

  async function effects(like: string): Promise<Map<string, number>> {
    const { rows } = await pg.query<{ key: string; n: string }>(
      'SELECT key, count(*) AS n FROM fault_effect WHERE key LIKE $1 GROUP BY key',
      [like],
    );
    return new Map(rows.map((r) => [r.key, Number(r.n)]));
  }

  async function counts(prefix: string): Promise<Record<string, number>> {
    const queue = new Queue('faults.slow', { connection: { port: redis.port }, prefix });
    try {
      return await queue.getJobCounts('active', 'wait', 'completed', 'failed', 'delayed');
    } finally {
      await queue.close();
    }
  }

  it('a worker SIGKILLed mid-job: a new worker completes the job after the lock expires, effect once', async () => {
    const prefix = `faults-kill-${randomBytes(3).toString('hex')}`;
    const recoveries: number[] = [];
    let worker = await start('worker', env(prefix));
    for (const i of [1, 2, 3]) {
      const key = `kill-${i}`;
      enqueue(worker, key, 2_500);
      await worker.waitFor(`fault-job start ${key}`, 10_000);
      expect(await worker.stop('SIGKILL')).toBeNull();
      const killedAt = Date.now();
      worker = await start('worker', env(prefix));
      await worker.waitFor(`fault-job done ${key} effect=true`, 20_000);
      recoveries.push(Date.now() - killedAt);
    }
    expect(await worker.stop()).toBe(0);
    process.stdout.write(`SIGKILL recovery (kill → effect done, incl. boot), ms: ${recoveries.join(', ')}\n`);

    expect(Object.fromEntries(await effects('kill-%'))).toEqual({ 'kill-1': 1, 'kill-2': 1, 'kill-3': 1 });
    expect(await counts(prefix)).toMatchObject({ active: 0, wait: 0, failed: 0, completed: 3 });
    // The worker never waits more than two lock periods (plus boot and the 2.5 s run) to take the job back.
    for (const ms of recoveries) {
      expect(ms).toBeLessThan(2 * LOCK_MS + 2_500 + 6_000);
    }
  }, 90_000);

  it("bullmq's PostgreSQL backend: a SIGKILLed worker's job completes after the lock expires, effect once", async () => {
    const onPostgres = { DATABASE_URL: db.url, JOBS_LOCK_DURATION: String(LOCK_MS) }; // no REDIS_URL
    let worker = await start('worker', onPostgres);
    expect(worker.output).toContain('Jobs: bullmq on PostgreSQL');
    enqueue(worker, 'pgkill-1', 2_500);
    await worker.waitFor('fault-job start pgkill-1', 10_000);
    expect(await worker.stop('SIGKILL')).toBeNull();
    const killedAt = Date.now();
    worker = await start('worker', onPostgres);
    await worker.waitFor('fault-job done pgkill-1 effect=true', 30_000);
    process.stdout.write(`PostgreSQL backend SIGKILL recovery: ${Date.now() - killedAt} ms\n`);
    expect(await worker.stop()).toBe(0);

    expect(Object.fromEntries(await effects('pgkill-%'))).toEqual({ 'pgkill-1': 1 });
    const queue = new (withBackend(createPostgresBackend).Queue)('faults.slow', { connection: db.url });
    try {
      expect(await queue.getJobCounts('active', 'wait', 'failed', 'completed')).toEqual({
        active: 0,
        wait: 0,
        failed: 0,
        completed: 1,
      });
    } finally {
      await queue.close();
    }
  }, 60_000);

  it('SIGTERM mid-job: the running job finishes, the worker exits 0, nothing is left active', async () => {
    const prefix = `faults-term-${randomBytes(3).toString('hex')}`;
    const worker = await start('worker', env(prefix));
    enqueue(worker, 'term-1', 2_000);
    await worker.waitFor('fault-job start term-1', 10_000);
    const signalledAt = Date.now();
    expect(await worker.stop('SIGTERM')).toBe(0);
    const shutdownMs = Date.now() - signalledAt;
    process.stdout.write(`SIGTERM mid-job: exited 0 after ${shutdownMs} ms\n`);

    expect(worker.output).toContain('fault-job done term-1 effect=true');
    expect(Object.fromEntries(await effects('term-%'))).toEqual({ 'term-1': 1 });
    expect(await counts(prefix)).toMatchObject({ active: 0, wait: 0, failed: 0, completed: 1 });
  }, 60_000);

  it('Redis stopped for 10 s and restarted: enqueues keep committing, the worker resumes by itself', async () => {
    const prefix = `faults-outage-${randomBytes(3).toString('hex')}`;
    const worker = await start('worker', env(prefix));
    const api = await start('http', env(prefix, { PORT: String(await freePort()), WORKERS: 'off' }));

    let n = 0;
    const trickle = setInterval(() => enqueue(api, `out-${++n}`, 50), 200);
    try {
      await sleep(3_000);
      const stoppedAt = new Date();
      await redis.stop();
      await sleep(10_000);
      await redis.start();
      const restartedAt = new Date();
      await sleep(5_000);
      clearInterval(trickle);
      const total = n;
      // The last enqueue may still be in its transaction: count the outbox once the app has answered it.
      await waitFor(`the app's answer to out-${total}`, () =>
        new RegExp(`fault-enqueue(d|-failed) out-${total} `).test(api.output),
      );

      // Every row enqueued from the outage on is published (relay or sweeper) and run exactly once.
      const deadline = Date.now() + 20_000;
      let done = await effects('out-%');
      const { rows: outbox } = await pg.query<{ key: string; createdAt: Date; publishedAt: Date | null }>(
        `SELECT payload->>'key' AS key, "createdAt", "publishedAt" FROM job_outbox WHERE name = 'faults.slow'
          AND payload->>'key' LIKE 'out-%'`,
      );
      const mustRun = outbox.filter((r) => r.createdAt >= stoppedAt).map((r) => r.key);
      while (mustRun.some((key) => !done.has(key)) && Date.now() < deadline) {
        await sleep(250);
        done = await effects('out-%');
      }
      const { rows: first } = await pg.query<{ at: Date }>(
        'SELECT min(at) AS at FROM fault_effect WHERE key LIKE $1 AND at > $2',
        ['out-%', restartedAt],
      );
      const { rows: unpublished } = await pg.query('SELECT id FROM job_outbox WHERE "publishedAt" IS NULL');
      const lost = outbox.filter((r) => !done.has(r.key));
      const duplicates = [...done.values()].filter((count) => count > 1).length;
      const resumeMs = first[0].at ? first[0].at.getTime() - restartedAt.getTime() : NaN;
      process.stdout.write(
        `Redis outage: ${total} enqueued (${outbox.length} outbox rows, ${mustRun.length} during/after the outage), ` +
          `${done.size} done, ${lost.length} lost (${lost.map((r) => r.key).join(' ') || '-'}), ` +
          `${duplicates} duplicated, worker resumed ${resumeMs} ms after Redis restarted\n`,
      );

      expect(outbox).toHaveLength(total); // no enqueue failed while Redis was down
      expect(api.output).not.toContain('fault-enqueue-failed');
      expect(duplicates).toBe(0);
      expect(mustRun.filter((key) => !done.has(key))).toEqual([]);
      expect(unpublished).toEqual([]);
      expect(resumeMs).toBeLessThan(10_000);
      // Only jobs already handed to the old Redis can vanish with its data (no persistence): see the report.
      for (const row of lost) {
        expect(row.publishedAt!.getTime()).toBeLessThan(stoppedAt.getTime());
      }
      expect(await counts(prefix)).toMatchObject({ active: 0, wait: 0, failed: 0 });
    } finally {
      clearInterval(trickle);
      expect(await api.stop()).toBe(0);
      expect(await worker.stop()).toBe(0);
    }
  }, 90_000);

  // The default limit on Redis, a lower JOBS_MAX_STALLS on PostgreSQL.
  it.each([
    ['Redis', 2],
    ['PostgreSQL', 1],
  ] as const)(
    '%s: past the stall limit (%i), a job whose workers die after its effect, before its handler returns, fails for good, as a poison pill does',
    async (backend, maxStalls) => {
      // A database of its own: the PostgreSQL backend's queue 'faults.slow' starts empty.
      const own = await createTestDatabase();
      const ownPg = new Client({ connectionString: own.url });
      await ownPg.connect();
      const prefix = `faults-stall-${randomBytes(3).toString('hex')}`;
      const vars: Record<string, string> = {
        DATABASE_URL: own.url,
        JOBS_LOCK_DURATION: String(LOCK_MS),
        ...(maxStalls === 2 ? {} : { JOBS_MAX_STALLS: String(maxStalls) }),
        FAULT_CONCURRENCY: '2',
        ...(backend === 'Redis' ? { REDIS_URL: redis.url, JOBS_PREFIX: prefix } : {}),
      };
      // Opened once the first worker is up: the PostgreSQL backend's queue needs bullmq's schema migrated.
      let queue: JobQueue | undefined;
      try {
        await ownPg.query(
          `CREATE TABLE fault_effect (key varchar(200) NOT NULL, "jobId" varchar(100) NOT NULL, pid int NOT NULL,
            at timestamptz NOT NULL DEFAULT clock_timestamp())`,
        );
        let worker = await start('worker', vars);
        const jobs: JobQueue =
          backend === 'Redis'
            ? new Queue<object, unknown>('faults.slow', { connection: { port: redis.port }, prefix })
            : new OnPostgres.Queue<object, unknown>('faults.slow', { connection: own.url });
        queue = jobs;
        // 'done': its effect commits at once, then its worker is killed while it holds on. 'pill': it kills
        // its worker before its effect, every time.
        enqueue(worker, 'done-1', 0, 30_000);
        enqueue(worker, 'pill-1', 30_000);
        await worker.waitFor('fault-enqueued pill-1', 10_000);
        const ids = Object.fromEntries(
          [...worker.output.matchAll(/fault-enqueued (\S+) (\S+)/g)].map((m) => [m[1], m[2]]),
        );
        const state = async (key: string): Promise<string> =>
          (await jobs.getJob(ids[key]))?.getState() ?? 'missing';
        const settled = async (): Promise<boolean> =>
          ['completed', 'failed'].includes(await state('done-1')) &&
          ['completed', 'failed'].includes(await state('pill-1'));

        let kills = 0;
        while (kills < 8) {
          const both = await waitFor(
            'both jobs running (done-1 past its effect), or both settled',
            async () => {
              if (await settled()) {
                return 'settled';
              }
              const out = worker.output; // this worker's own output: the earlier ones are dead
              return (
                out.includes('fault-job done done-1') && out.includes('fault-job start pill-1') && 'running'
              );
            },
            30_000,
          );
          if (both === 'settled') {
            break;
          }
          expect(await worker.stop('SIGKILL')).toBeNull();
          kills += 1;
          worker = await start('worker', vars);
        }
        const [effectRows, outbox] = [
          (await ownPg.query<{ key: string }>('SELECT key FROM fault_effect ORDER BY key')).rows,
          (
            await ownPg.query<{ key: string; finished: boolean; failed: boolean }>(
              `SELECT payload->>'key' AS key, "finishedAt" IS NOT NULL AS finished, "failedAt" IS NOT NULL AS failed
                 FROM job_outbox ORDER BY 1`,
            )
          ).rows,
        ];
        const failedReason = (await jobs.getJob(ids['pill-1']))?.failedReason;
        const doneReason = (await jobs.getJob(ids['done-1']))?.failedReason;
        process.stdout.write(
          `${backend}: workers killed ${kills} times; done-1 ${await state('done-1')}, pill-1 ` +
            `${await state('pill-1')} (${failedReason}); effects ${effectRows.map((r) => r.key).join(',')}\n`,
        );
        expect(await worker.stop()).toBe(0);

        expect(kills).toBe(maxStalls + 1); // bullmq's stall count goes past JOBS_MAX_STALLS on this death
        expect(effectRows).toEqual([{ key: 'done-1' }]); // once, for all the deliveries
        // done-1's handler never returned: nothing vouches for what it would have done after its effect.
        expect(await state('done-1')).toBe('failed');
        expect(doneReason).toMatch(
          new RegExp(
            `its worker died ${maxStalls + 1} times before its handler returned \\(1 once effect\\(s\\) committed`,
          ),
        );
        expect(await state('pill-1')).toBe('failed');
        expect(failedReason).toMatch(
          new RegExp(
            `stalled more than allowable limit: its worker died ${maxStalls + 1} times before any of its effects`,
          ),
        );
        // The outbox agrees: both failed, with the queue's reason (and retryable by staff).
        await waitFor('the outbox rows settled', async () => {
          const { rows } = await ownPg.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM job_outbox WHERE "finishedAt" IS NOT NULL',
          );
          return rows[0].n === 2;
        });
        const { rows: settledRows } = await ownPg.query<{
          key: string;
          failed: boolean;
          lastError: string | null;
        }>(
          `SELECT payload->>'key' AS key, "failedAt" IS NOT NULL AS failed, "lastError" FROM job_outbox ORDER BY 1`,
        );
        expect(outbox.map((r) => r.key)).toEqual(['done-1', 'pill-1']);
        // The failed row says why, as the queue does.
        expect(settledRows).toEqual([
          { key: 'done-1', failed: true, lastError: doneReason },
          { key: 'pill-1', failed: true, lastError: failedReason },
        ]);
      } finally {
        await queue?.close();
        await ownPg.end();
        await own.drop();
      }
    },
    120_000,
  );
});
