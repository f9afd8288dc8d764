import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { Category } from 'src/app/catalog/category.entity';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

/** The smoke subset on the embedded default: no DATABASE_URL, PGlite persisted in DATA_DIR. */
describe('Embedded default (PGlite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nestor-embedded-'));
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(withFixtures, {
      database: 'embedded',
      dataDir,
      as: 'superuser',
      // Redis out of reach (readiness names it); Idempotency-Keys kept in the embedded database, as without it.
      env: { REDIS_URL: 'redis://127.0.0.1:1', IDEMPOTENCY_STORE: 'database' },
    });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves live, docs and an OpenAPI document', async () => {
    expect((await t.inject('/health/live')).statusCode).toBe(200);
    expect((await t.inject('/docs')).statusCode).toBe(200);
    expect((await t.inject('/docs-json')).json()).toMatchObject({ openapi: '3.1.0' });
  });

  it('fails readiness with 503 problem+json naming an unreachable Redis', async () => {
    const res = await t.inject('/health/ready');
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      detail: 'Not ready: redis',
      checks: { database: { status: 'up' }, migrations: { status: 'up' }, redis: { status: 'down' } },
    });
  });

  it('serialises concurrent transactions on the single embedded connection', async () => {
    // Each request counts rows, waits, then inserts `c<count>` in one transaction: interleaving
    // transactions would read the same count and collide on the unique name (409).
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => t.inject({ method: 'POST', url: '/test-fixtures/categories/next' })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(30).fill(201));
    const names = (await t.app.get(DataSource).getRepository(Category).find()).map((c) => c.name).sort();
    expect(names).toEqual(Array.from({ length: 30 }, (_, i) => `c${i}`).sort());
  });

  it('serves the generated resources: writes, filters, includes, cursors and orders', async () => {
    const post = (url: string, payload: object) => t.inject({ method: 'POST', url, payload });
    const category = (await post('/api/categories', { name: 'Embedded', slug: 'embedded' })).json<{
      id: number;
    }>();
    const tag = (await post('/api/tags', { name: 'pglite' })).json<{ id: number }>();
    const ids: number[] = [];
    for (const [i, price] of ['1.50', '20.00', '7.25'].entries()) {
      const res = await post('/api/products', {
        name: `Item ${i}`,
        sku: `EMB-${i}`,
        price,
        stock: 3,
        status: 'active',
        categoryId: category.id,
        tagIds: [tag.id],
      });
      expect(res.statusCode).toBe(201);
      ids.push(res.json<{ id: number }>().id);
    }
    const first = await t.inject(
      '/api/products?filter[tags.name]=pglite&sort=price&limit=2&include=category,tags',
    );
    const page = first.json<{
      data: { price: string; category: { slug: string }; tagIds: number[] }[];
      meta: { total: number; nextCursor: string };
    }>();
    expect(page.data.map((p) => p.price)).toEqual(['1.50', '7.25']);
    expect(page.data[0]).toMatchObject({
      category: { slug: 'embedded' },
      tagIds: [tag.id],
      tags: [{ name: 'pglite' }],
    });
    expect(page.meta.total).toBe(3);
    const next = await t.inject(
      `/api/products?filter[tags.name]=pglite&sort=price&limit=2&after=${page.meta.nextCursor}`,
    );
    expect(next.json<{ data: { price: string }[] }>().data.map((p) => p.price)).toEqual(['20.00']);
    // An enum list filter binds an array of a user-defined type, which PGlite has no serializer for.
    const statuses = await t.inject(
      '/api/products?filter[status][in]=active,archived&filter[id][in]=' + ids.join(','),
    );
    expect(statuses.statusCode).toBe(200);
    expect(statuses.json<{ meta: { total: number } }>().meta.total).toBe(3);

    const order = await post('/api/orders', { items: [{ productId: ids[1], quantity: 3 }] });
    expect(order.json()).toMatchObject({ total: '60.00' });
    expect((await post('/api/orders', { items: [{ productId: ids[1], quantity: 1 }] })).statusCode).toBe(409);
  });

  it("replays an Idempotency-Key's stored response byte for byte", async () => {
    const send = () =>
      t.inject({
        method: 'POST',
        url: '/api/categories',
        payload: { name: 'Kettles', slug: 'kettles' },
        headers: { 'idempotency-key': '3f0c6a44-9d61-4c5e-9a43-aa0f2b8f6d11' },
      });
    const first = await send();
    expect(first.statusCode).toBe(201);
    const again = await send();
    expect(again.statusCode).toBe(201);
    expect(again.headers).toMatchObject({
      'idempotent-replayed': 'true',
      location: first.headers.location,
      etag: first.headers.etag,
    });
    expect(again.body).toBe(first.body);
    expect(await t.app.get(DataSource).getRepository(Category).countBy({ slug: 'kettles' })).toBe(1);
  });

  it('keeps data across a restart and does not re-apply migrations', async () => {
    await t.app.get(DataSource).getRepository(Category).save({ name: 'Kept', slug: 'kept' });
    await t.close({ keepData: true });

    t = await createTestApp(withFixtures, { database: 'embedded', dataDir });
    const dataSource = t.app.get(DataSource);
    expect(await dataSource.getRepository(Category).findOneBy({ slug: 'kept' })).toMatchObject({
      name: 'Kept',
    });
    // One row per migration file: a second boot applied nothing twice.
    expect(await dataSource.query('SELECT name FROM migrations')).toHaveLength(dataSource.migrations.length);
    expect(dataSource.migrations.length).toBeGreaterThan(0);
    expect((await t.inject('/health/ready')).statusCode).toBe(200);
  });
});
