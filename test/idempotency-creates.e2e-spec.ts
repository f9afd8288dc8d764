import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { DataSource } from 'typeorm';
import { OneStatementCreate } from 'src/framework/resource/one-statement-create';
import { IDEMPOTENCY_PROBLEMS } from 'src/framework/idempotency/idempotency-key';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

/**
 * Idempotency-Key on the generated create (runKeyed instead of the interceptor): a keyed create runs as a
 * transaction that marks the key, never as one statement, and its answer is replayed.
 */
describe('Idempotency-Key on generated creates', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let categoryId: number;
  let n = 0;

  beforeAll(async () => {
    t = await createTestApp(withFixtures, { as: 'superuser' });
    dataSource = t.app.get(DataSource);
    const res = await t.inject({ method: 'POST', url: '/api/categories', payload: { name: 'K', slug: 'k' } });
    categoryId = res.json<{ id: number }>().id;
  });
  afterAll(() => t?.close());

  const body = () => ({
    name: `keyed ${++n}`,
    sku: `KEY-${n}-${randomUUID().slice(0, 6).toUpperCase()}`,
    price: '2.00',
    categoryId,
  });
  const post = (key: string, payload: object, extra: Partial<InjectOptions> = {}) =>
    t.inject({
      method: 'POST',
      url: '/api/products',
      payload,
      ...extra,
      headers: { 'idempotency-key': key, ...extra.headers },
    });
  const products = async (sku: string) =>
    (await dataSource.query<{ n: number }[]>('SELECT count(*)::int n FROM product WHERE sku = $1', [sku]))[0]
      .n;

  it('runs a keyed create as a transaction that marks the key (never as one statement)', async () => {
    const spy = jest.spyOn(OneStatementCreate.prototype, 'create');
    const key = randomUUID();
    try {
      expect((await post(key, body())).statusCode).toBe(201);
    } finally {
      spy.mockRestore();
    }
    expect(spy).not.toHaveBeenCalled();
    const [record] = await dataSource.query<{ committed: boolean }[]>(
      'SELECT "committedAt" IS NOT NULL AS committed FROM idempotency_key WHERE key = $1',
      [key],
    );
    expect(record).toEqual({ committed: true });
  });

  it('replays status, body, content type, ETag and Location; another body is a 422 problem', async () => {
    const key = randomUUID();
    const payload = body();
    const first = await post(key, payload);
    expect(first.statusCode).toBe(201);
    const again = await post(key, { ...payload });
    expect({
      status: again.statusCode,
      body: again.body,
      type: again.headers['content-type'],
      etag: again.headers.etag,
      location: again.headers.location,
      replayed: again.headers['idempotent-replayed'],
    }).toEqual({
      status: 201,
      body: first.body,
      type: first.headers['content-type'],
      etag: first.headers.etag,
      location: first.headers.location,
      replayed: 'true',
    });
    const other = await post(key, { ...payload, name: 'changed' });
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(other.json<{ type: string }>().type).toBe(IDEMPOTENCY_PROBLEMS.reused);
    expect(await products(payload.sku)).toBe(1);
  });

  it('a keyed create that fails (409) writes nothing and is not kept: its retry runs again', async () => {
    const existing = body();
    expect((await t.inject({ method: 'POST', url: '/api/products', payload: existing })).statusCode).toBe(
      201,
    );
    const key = randomUUID();
    const dup = { ...existing, name: 'dup' };
    const failed = await post(key, dup);
    expect(failed.statusCode).toBe(409);
    expect(failed.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(await products(existing.sku)).toBe(1);
    const retried = await post(key, dup);
    expect(retried.statusCode).toBe(409);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('10 concurrent requests with one key create one product', async () => {
    const key = randomUUID();
    const payload = body();
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(key, payload)));
    const statuses = answers.map((a) => a.statusCode);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    const bodies = new Set(answers.filter((a) => a.statusCode === 201).map((a) => a.body));
    expect(bodies.size).toBe(1);
    expect(await products(payload.sku)).toBe(1);
  });

  it('a key on GET is ignored', async () => {
    const created = await t.inject({ method: 'POST', url: '/api/products', payload: body() });
    const url = String(created.headers.location);
    const a = await t.inject({ url, headers: { 'idempotency-key': 'g' } });
    const b = await t.inject({ url, headers: { 'idempotency-key': 'g' } });
    expect([a.statusCode, b.statusCode, b.headers['idempotent-replayed']]).toEqual([200, 200, undefined]);
  });
});
