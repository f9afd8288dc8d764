import { Client } from 'pg';
import { DataSource, EntitySubscriberInterface } from 'typeorm';
import { Product } from 'src/app/catalog/product.entity';
import { serverPool } from 'src/framework/database/data-source-options';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

/**
 * A refused create (409 duplicate, 422 missing reference) must not cost the server its pooled
 * PostgreSQL connection (pg-pool's `pool.query` closes it on any error, and the next request then opens,
 * authenticates and re-prepares a new backend); a connection PostgreSQL closed must still leave the pool.
 */
describe('pooled connections after refused creates and closed connections', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let categoryId: number;
  let closed = 0;
  let dropped = 0;

  beforeAll(async () => {
    t = await createTestApp(withFixtures, { as: 'superuser', env: { RESOURCE_CACHE: 'off' } });
    dataSource = t.app.get(DataSource);
    const pool = serverPool(dataSource)!;
    pool.on('remove', () => closed++);
    // pg-pool removes (closes) a client released with an error.
    pool.on('release', (error: Error | undefined) => void (error && dropped++));
    const res = await t.inject({ method: 'POST', url: '/api/categories', payload: { name: 'P', slug: 'p' } });
    categoryId = res.json<{ id: number }>().id;
    const first = { name: 'taken', sku: 'TAKEN-1', price: '1.00', categoryId };
    expect((await t.inject({ method: 'POST', url: '/api/products', payload: first })).statusCode).toBe(201);
  });
  afterAll(() => t?.close());

  async function refusedCreates(ordinary: boolean): Promise<Record<string, unknown>> {
    const inert: EntitySubscriberInterface = { listenTo: () => Product };
    if (ordinary) {
      dataSource.subscribers.push(inert);
    }
    const before = { closed, dropped };
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const duplicate = { name: `again ${i}`, sku: 'TAKEN-1', price: '1.00', categoryId };
        statuses.push(
          (await t.inject({ method: 'POST', url: '/api/products', payload: duplicate })).statusCode,
        );
        const orphan = {
          name: `orphan ${i}`,
          sku: `ORPHAN-${ordinary ? 'T' : 'O'}-${i}`,
          price: '1.00',
          categoryId: 999999,
        };
        statuses.push((await t.inject({ method: 'POST', url: '/api/products', payload: orphan })).statusCode);
      }
      await new Promise((resolve) => setTimeout(resolve, 200)); // pg-pool closes a removed client asynchronously
    } finally {
      if (ordinary) {
        dataSource.subscribers.splice(dataSource.subscribers.indexOf(inert), 1);
      }
    }
    // A connection opened meanwhile is not counted (seen once, in a full run on a busy machine): the pool also
    // grows when background work on it overlaps a request, such as the outbox sweeper's query every 2 s. A lost
    // connection always shows as closed (pg-pool's 'remove').
    return {
      statuses: [...new Set(statuses)],
      dropped: dropped - before.dropped,
      closed: closed - before.closed,
    };
  }

  it('the ordinary (transactional) create keeps its connections', async () => {
    expect(await refusedCreates(true)).toEqual({ statuses: [409, 422], dropped: 0, closed: 0 });
  });

  it('the one-statement create keeps its connections too', async () => {
    expect(await refusedCreates(false)).toEqual({ statuses: [409, 422], dropped: 0, closed: 0 });
  });

  it('drops the connections PostgreSQL closed, and the reads after them are answered', async () => {
    const before = closed;
    const product = (await t.inject('/api/products?limit=1')).json<{ data: { id: number }[] }>().data[0];
    // Every pooled connection of this app, closed by the server (a failover, an admin's kill). Killed from a
    // connection of its own: the pool may hold a single connection, which a query through it would spare.
    const admin = new Client(serverPool(dataSource)!.options);
    await admin.connect();
    try {
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
    } finally {
      await admin.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await t.inject(`/api/products/${product.id}`)).statusCode);
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(closed - before).toBeGreaterThan(0);
  });
});
