import { DataSource } from 'typeorm';
import { serverPool } from 'src/framework/database/data-source-options';
import { DatabaseHangGuard, PROBE_AFTER_MS, PROBE_TIMEOUT_MS } from 'src/framework/database/hang-guard';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';

/**
 * The guard against a hung PostgreSQL server must leave slow queries on a live server alone (the hung case is
 * test/reliability/faults.e2e-spec.ts, with a SIGSTOPped cluster).
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
});
