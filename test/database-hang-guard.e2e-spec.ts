import { runMigrations } from 'bullmq';
import { Pool, PoolConfig } from 'pg';
import { DataSource } from 'typeorm';
import { serverPool } from 'src/framework/database/data-source-options';
import { DatabaseHangGuard, PROBE_AFTER_MS, PROBE_TIMEOUT_MS } from 'src/framework/database/hang-guard';
import { BULLMQ_SCHEMA } from 'src/framework/jobs/backends/postgres-job-backend';
import { OnPostgres } from 'src/framework/jobs/backends/job-backend';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { FrozenProxy } from 'test/support/frozen-proxy';
import { sleep, waitFor } from 'test/support/wait';

/**
 * The guard against a hung PostgreSQL server must leave slow queries on a live server alone (the hung case for
 * the application's pool is test/reliability/faults.e2e-spec.ts, with a SIGSTOPped cluster), and guards the
 * other pools registered with it: here bullmq's, hung through a proxy that stops forwarding.
 */
describe('DatabaseHangGuard on a live server', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let guard: DatabaseHangGuard;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = new DataSource({ type: 'postgres', url: db.url, poolSize: 3 });
    await dataSource.initialize();
    guard = new DatabaseHangGuard(dataSource);
    guard.onApplicationBootstrap();
  });

  afterAll(async () => {
    guard.onApplicationShutdown();
    await dataSource.destroy();
    await db.drop();
  });

  /** A `pg` pool reaching the test database through a proxy that can freeze, watched by the guard. */
  async function guardedPool(options: PoolConfig) {
    const proxy = await FrozenProxy.start(Number(new URL(db.url).port || 5432));
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const pool = new Pool({ ...options, connectionString: url.toString() });
    pool.on('error', () => undefined);
    return { proxy, pool, unwatch: guard.watch(pool) };
  }

  /** Runs `hang` on a guarded pool, then thaws the proxy and requires the pool to connect again. */
  async function onGuardedPool(options: PoolConfig, hang: (proxy: FrozenProxy, pool: Pool) => Promise<void>) {
    const { proxy, pool, unwatch } = await guardedPool(options);
    try {
      await hang(proxy, pool);
      // The server back, the pool connects again.
      proxy.thaw();
      expect(await pool.query<{ ok: number }>('SELECT 1 AS ok')).toMatchObject({ rows: [{ ok: 1 }] });
    } finally {
      unwatch();
      proxy.thaw();
      await pool.end();
      await proxy.close();
    }
  }

  /** Freezes the proxy and runs `SELECT 1`: how it ended (an error message, or 'answered') and after how long. */
  async function queryWhileFrozen(proxy: FrozenProxy, pool: Pool) {
    proxy.freeze();
    const frozenAt = Date.now();
    const hung = await pool.query('SELECT 1').then(
      () => 'answered',
      (error: Error) => error.message,
    );
    return { hung, frozenAt, closedMs: Date.now() - frozenAt };
  }

  it('lets queries that outlast probe + timeout finish, in and out of transactions', async () => {
    const seconds = (PROBE_AFTER_MS + PROBE_TIMEOUT_MS + 1_000) / 1000;
    const started = Date.now();
    const [alone, inTransaction] = await Promise.all([
      dataSource.query<{ ok: number }[]>(`SELECT 1 AS ok FROM pg_sleep(${seconds})`),
      dataSource.transaction((manager) =>
        manager.query<{ ok: number }[]>(`SELECT 2 AS ok FROM pg_sleep(${seconds})`),
      ),
    ]);
    expect(alone).toEqual([{ ok: 1 }]);
    expect(inTransaction).toEqual([{ ok: 2 }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(seconds * 1000);
    // The pool's connections all survived.
    expect(serverPool(dataSource)?.totalCount).toBeGreaterThanOrEqual(2);
  });

  it('fails a new connection to the hung server within the probe window, instead of waiting forever', async () => {
    // No idle connection: the query must open one, and the server never sends its greeting.
    await onGuardedPool({ max: 2 }, async (proxy, pool) => {
      const { hung, closedMs } = await queryWhileFrozen(proxy, pool);
      expect(hung).not.toBe('answered');
      expect(closedMs).toBeGreaterThanOrEqual(PROBE_AFTER_MS);
      expect(closedMs).toBeLessThan(PROBE_AFTER_MS + PROBE_TIMEOUT_MS + 2_000);
    });
  }, 30_000);

  it('leaves a slow query alone when the server refuses the probe: a refusal is an answer', async () => {
    // A role allowed one connection: the guard's probe gets "too many connections" (53300) from a live server.
    const role = `hang_guard_${process.pid}`;
    await dataSource.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
    const url = new URL(db.url);
    url.username = role;
    const pool = new Pool({ connectionString: url.toString(), max: 1 });
    pool.on('error', () => undefined);
    const unwatch = guard.watch(pool);
    try {
      const seconds = (PROBE_AFTER_MS + PROBE_TIMEOUT_MS + 500) / 1000;
      const answer = await pool.query<{ ok: number }>(`SELECT 1 AS ok FROM pg_sleep(${seconds})`);
      expect(answer.rows).toEqual([{ ok: 1 }]);
    } finally {
      unwatch();
      await pool.end();
      await dataSource.query(`DROP ROLE ${role}`);
    }
  }, 30_000);

  it('fails every query and queued request on the hung server at once, also those that began during a probe', async () => {
    await onGuardedPool({ max: 2, connectionTimeoutMillis: 30_000 }, async (proxy, pool) => {
      // Both connections opened before the freeze: their queries hang mid-flight.
      await Promise.all([pool.query('SELECT pg_sleep(0.1)'), pool.query('SELECT pg_sleep(0.1)')]);
      proxy.freeze();
      const frozenAt = Date.now();
      const ended = (query: Promise<unknown>) =>
        query.then(
          () => ({ how: 'answered', at: Date.now() - frozenAt }),
          (error: Error) => ({ how: error.message, at: Date.now() - frozenAt }),
        );
      const first = ended(pool.query('SELECT 1'));
      await sleep(PROBE_AFTER_MS - 500);
      // Not yet due when the guard starts its probe; then one more waits in the pool's queue.
      const [running, later, queued] = await Promise.all([
        first,
        ended(pool.query('SELECT 2')),
        ended(pool.query('SELECT 3')),
      ]);
      for (const query of [running, later, queued]) {
        expect(query.how).toMatch(/Connection terminated/);
        expect(query.at).toBeLessThan(PROBE_AFTER_MS + PROBE_TIMEOUT_MS + 1_000);
        expect(query.at - running.at).toBeLessThan(500);
      }
    });
  }, 30_000);

  it("closes a hung query on bullmq's pool within the probe window; the worker then recovers", async () => {
    // As PostgresJobBackend opens it, and registers it with the guard.
    const { proxy, pool, unwatch } = await guardedPool({
      options: `-c search_path="${BULLMQ_SCHEMA}"`,
      max: 6,
    });
    const client = await pool.connect();
    await runMigrations(client, BULLMQ_SCHEMA);
    client.release();
    const queue = new OnPostgres.Queue<object, unknown>('hang.guard', { connection: pool });
    const ran: string[] = [];
    const worker = new OnPostgres.Worker<object, unknown>(
      'hang.guard',
      (job) => Promise.resolve(void ran.push(job.name)),
      { connection: pool },
    );
    worker.on('error', () => undefined);
    try {
      await queue.add('before', {});
      await waitFor('the job before the hang', () => ran.includes('before'));

      const { hung, frozenAt, closedMs } = await queryWhileFrozen(proxy, pool);
      proxy.thaw();
      await queue.add('after', {});
      await waitFor('the job after the hang', () => ran.includes('after'), 20_000);
      const recoveredMs = Date.now() - frozenAt;
      process.stdout.write(
        `jobs pool hung: query closed after ${closedMs} ms (${hung}); worker ran a new job ${recoveredMs} ms after the hang began\n`,
      );

      expect(hung).not.toBe('answered');
      expect(closedMs).toBeGreaterThanOrEqual(PROBE_AFTER_MS);
      expect(closedMs).toBeLessThan(PROBE_AFTER_MS + PROBE_TIMEOUT_MS + 2_000);
    } finally {
      unwatch();
      proxy.thaw();
      await worker.close(true);
      await queue.close();
      await pool.end();
      await proxy.close();
    }
  }, 60_000);
});
