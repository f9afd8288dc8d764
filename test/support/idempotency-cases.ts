import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { OrderService } from 'src/app/orders/order.service';
import type { Problem } from 'src/framework/http/problem';
import { IDEMPOTENCY_PROBLEMS } from 'src/framework/idempotency/idempotency-key';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';

/** What the cases need of the app they run against (booted by each store's own e2e file). */
export interface IdempotencyHarness {
  t: TestApp;
  sql<T = Record<string, unknown>>(text: string, parameters?: unknown[]): Promise<T[]>;
  customer: TestUser;
  product(fields?: Partial<Product>): Promise<Product>;
}

/** Boots the shop with these variables and a customer; the returned harness is filled in `beforeAll`. */
export function idempotencyApp(env: Record<string, string>): IdempotencyHarness {
  const harness = {} as IdempotencyHarness;
  let category: Category;
  let sku = 0;
  beforeAll(async () => {
    harness.t = await createTestApp(AppModule.forRoot, { as: 'superuser', env });
    const dataSource = harness.t.app.get(DataSource);
    harness.sql = <T>(text: string, parameters: unknown[] = []) => dataSource.query<T[]>(text, parameters);
    harness.customer = await harness.t.createUser();
    category = await harness.t.factory(Category).create({ name: 'Keys', slug: `keys-${randomUUID()}` });
    harness.product = (fields = {}) =>
      harness.t.factory(Product).create({
        sku: `IDEM-${++sku}-${randomUUID().slice(0, 8)}`,
        price: '5.00',
        stock: 100,
        status: ProductStatus.Active,
        category,
        ...fields,
      });
  });
  afterAll(() => harness.t?.close());
  return harness;
}

/** Asserts an RFC 9457 problem response with this status (and type) and returns its body. */
export function problem(res: LightMyRequestResponse, status: number, type?: string): Problem {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<Problem>();
  if (type) {
    expect(body.type).toBe(type);
  }
  return body;
}

/**
 * The behaviour every store must have, through the shop's `POST /api/orders` (a custom route that opts in)
 * and the generated product routes.
 */
export function idempotencyCases(h: IdempotencyHarness): void {
  const stockOf = async (id: number) =>
    (await h.sql<{ stock: number }>('SELECT stock FROM product WHERE id = $1', [id]))[0].stock;
  const ordersWith = async (productId: number) =>
    (
      await h.sql<{ n: number }>(
        'SELECT count(DISTINCT "orderId")::int AS n FROM order_item WHERE "productId" = $1',
        [productId],
      )
    )[0].n;
  const place = (
    key: string | undefined,
    items: { productId: number; quantity: number }[],
    as: Pick<TestUser, 'accessToken'> = h.customer,
    extra: Partial<InjectOptions> = {},
  ) =>
    h.t.actingAs(as).inject({
      method: 'POST',
      url: '/api/orders',
      payload: { items },
      ...extra,
      headers: { ...(key === undefined ? {} : { 'idempotency-key': key }), ...extra.headers },
    });

  it('a retry with the same key and order gets the first response, marked, without a second order', async () => {
    const { id: productId } = await h.product();
    const key = `"${randomUUID()}"`;
    const first = await place(key, [{ productId, quantity: 3 }]);
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    // Re-serialised with other key order and spacing: still the same payload.
    const again = await place(key, [], h.customer, {
      payload: `{ "items": [ { "quantity": 3, "productId": ${productId} } ] }`,
      headers: { 'content-type': 'application/json' },
    });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    for (const header of ['location', 'etag', 'content-type']) {
      expect(again.headers[header]).toBe(first.headers[header]);
    }
    // The replay is a response of its own: its request id and security headers are this request's.
    expect(again.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
    expect(again.headers['x-content-type-options']).toBe('nosniff');
    expect(await ordersWith(productId)).toBe(1);
    expect(await stockOf(productId)).toBe(97);
    const orderId = first.json<{ id: number }>().id;
    const [{ jobs }] = await h.sql<{ jobs: number }>(
      `SELECT count(*)::int AS jobs FROM job_outbox WHERE name = 'orders.send-confirmation'
        AND (payload->>'orderId')::int = $1`,
      [orderId],
    );
    expect(jobs).toBe(1);
  });

  it('the same key as a bare token or a structured-field string is one key', async () => {
    const { id: productId } = await h.product();
    const key = randomUUID();
    expect((await place(key, [{ productId, quantity: 1 }])).statusCode).toBe(201);
    const quoted = await place(`"${key}"`, [{ productId, quantity: 1 }]);
    expect(quoted.headers['idempotent-replayed']).toBe('true');
    expect(await ordersWith(productId)).toBe(1);
  });

  it('the same key with another payload is a 422 problem and changes nothing', async () => {
    const { id: productId } = await h.product();
    const key = randomUUID();
    expect((await place(key, [{ productId, quantity: 1 }])).statusCode).toBe(201);
    problem(await place(key, [{ productId, quantity: 2 }]), 422, IDEMPOTENCY_PROBLEMS.reused);
    expect(await ordersWith(productId)).toBe(1);
    expect(await stockOf(productId)).toBe(99);
  });

  it("keys are per caller: another user's same key and order is their own order", async () => {
    const { id: productId } = await h.product();
    const key = randomUUID();
    const other = await h.t.createUser();
    const mine = await place(key, [{ productId, quantity: 1 }]);
    const theirs = await place(key, [{ productId, quantity: 1 }], other);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.json<{ id: number }>().id).not.toBe(mine.json<{ id: number }>().id);
    // An API key is a caller of its own, even its owner's.
    const staff = await h.t.createUser({ permissions: ['products.add'] });
    const apiKey = await h.t.createApiKey(staff, ['products.add']);
    const [{ categoryId }] = await h.sql<{ categoryId: number }>(
      'SELECT "categoryId" FROM product WHERE id = $1',
      [productId],
    );
    const create = {
      method: 'POST' as const,
      url: '/api/products',
      payload: {
        name: 'Keyed',
        sku: `API-${randomUUID().slice(0, 8).toUpperCase()}`,
        price: '1.00',
        categoryId,
      },
      headers: { 'idempotency-key': key },
    };
    expect((await h.t.actingAs(staff).inject(create)).statusCode).toBe(201);
    const viaKey = await h.t.withApiKey(apiKey).inject(create);
    // Not a replay of the token's response: it ran, and the SKU is taken.
    expect(viaKey.headers['idempotent-replayed']).toBeUndefined();
    problem(viaKey, 409);
  });

  it.each([
    ['an empty string', '""'],
    ['256 characters', 'k'.repeat(256)],
    ['a space', 'two words'],
    ['parameters', '"abc";v=1'],
    ['an unterminated string', '"abc'],
  ])('a key with %s is a 400 problem and nothing runs', async (_what, key) => {
    const { id: productId } = await h.product();
    problem(await place(key, [{ productId, quantity: 1 }]), 400, IDEMPOTENCY_PROBLEMS.invalid);
    expect(await ordersWith(productId)).toBe(0);
  });

  it('two Idempotency-Key fields are a 400 problem', async () => {
    const { id: productId } = await h.product();
    const res = await place(undefined, [{ productId, quantity: 1 }], h.customer, {
      headers: { 'idempotency-key': [randomUUID(), randomUUID()] as unknown as string },
    });
    expect(problem(res, 400, IDEMPOTENCY_PROBLEMS.invalid).detail).toContain('2 Idempotency-Key fields');
    expect(await ordersWith(productId)).toBe(0);
  });

  it('a 4xx that changed nothing is not kept: the retry runs again (here once stock is back)', async () => {
    const { id: productId } = await h.product({ stock: 1 });
    const key = randomUUID();
    problem(await place(key, [{ productId, quantity: 2 }]), 409);
    await h.sql('UPDATE product SET stock = 5 WHERE id = $1', [productId]);
    const retried = await place(key, [{ productId, quantity: 2 }]);
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await stockOf(productId)).toBe(3);
    // A validation error is not kept either: sent again it is validated again, and a fixed body may use the key.
    const other = randomUUID();
    for (let i = 0; i < 2; i++) {
      const invalid = await place(other, [{ productId, quantity: 0 }]);
      expect(problem(invalid, 422).errors?.[0]?.pointer).toBe('/items/0/quantity');
      expect(invalid.headers['idempotent-replayed']).toBeUndefined();
    }
    expect((await place(other, [{ productId, quantity: 1 }])).statusCode).toBe(201);
  });

  it('a 5xx is not kept: the retry runs again', async () => {
    const { id: productId } = await h.product();
    const key = randomUUID();
    const orders = h.t.app.get(OrderService);
    const fail = jest.spyOn(orders, 'place').mockRejectedValueOnce(new Error('disk on fire'));
    try {
      problem(await place(key, [{ productId, quantity: 1 }]), 500);
    } finally {
      fail.mockRestore();
    }
    const retried = await place(key, [{ productId, quantity: 1 }]);
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await ordersWith(productId)).toBe(1);
  });

  it('a failure after the commit never runs twice: the retry hears that the response is lost', async () => {
    const { id: productId } = await h.product();
    const key = randomUUID();
    const orders = h.t.app.get(OrderService);
    // `place` commits, then reads the order back through `get`: that read fails.
    const fail = jest.spyOn(orders, 'get').mockRejectedValueOnce(new Error('connection lost after commit'));
    try {
      problem(await place(key, [{ productId, quantity: 1 }]), 500);
    } finally {
      fail.mockRestore();
    }
    const retried = await place(key, [{ productId, quantity: 1 }]);
    expect(problem(retried, 409, IDEMPOTENCY_PROBLEMS.responseLost).detail).toContain(
      'will not be carried out again',
    );
    expect(retried.headers['retry-after']).toBeUndefined();
    expect(await ordersWith(productId)).toBe(1);
    expect(await stockOf(productId)).toBe(99);
  });

  it('20 parallel requests with one key: one order, the others 409 with Retry-After or replays', async () => {
    const { id: productId } = await h.product({ stock: 50 });
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => place(key, [{ productId, quantity: 2 }])),
    );
    const created = responses.filter((r) => r.statusCode === 201 && !r.headers['idempotent-replayed']);
    const replays = responses.filter((r) => r.headers['idempotent-replayed'] === 'true');
    const busy = responses.filter((r) => r.statusCode === 409);
    for (const res of busy) {
      problem(res, 409, IDEMPOTENCY_PROBLEMS.inProgress);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(created).toHaveLength(1);
    expect(replays.length + busy.length).toBe(19);
    for (const replay of replays) {
      expect(replay.body).toBe(created[0].body);
    }
    expect(await ordersWith(productId)).toBe(1);
    expect(await stockOf(productId)).toBe(48);
    console.info(`20 parallel requests, one key: 1 × 201, ${busy.length} × 409, ${replays.length} replays`);
  });

  it('generated routes: create, update, delete and restore replay their first response', async () => {
    const [{ categoryId }] = await h.sql<{ categoryId: number }>(
      'SELECT id AS "categoryId" FROM category LIMIT 1',
    );
    const send = (
      method: 'POST' | 'PATCH' | 'DELETE',
      url: string,
      key: string,
      extra: Partial<InjectOptions> = {},
    ) => h.t.inject({ method, url, ...extra, headers: { 'idempotency-key': key, ...extra.headers } });

    const createKey = randomUUID();
    const payload = {
      name: 'Kettle',
      sku: `GEN-${randomUUID().slice(0, 8).toUpperCase()}`,
      price: '30.00',
      categoryId,
    };
    const created = await send('POST', '/api/products', createKey, { payload });
    expect(created.statusCode).toBe(201);
    const again = await send('POST', '/api/products', createKey, { payload });
    expect(again).toMatchObject({ statusCode: 201, body: created.body });
    expect(again.headers).toMatchObject({
      'idempotent-replayed': 'true',
      location: created.headers.location,
      etag: created.headers.etag,
    });
    const id = created.json<{ id: number }>().id;

    // PATCH with If-Match: the retry replays 200 where a plain retry would now be a 412.
    const patchKey = randomUUID();
    const patch = { payload: { price: '31.00' }, headers: { 'if-match': String(created.headers.etag) } };
    const updated = await send('PATCH', `/api/products/${id}`, patchKey, patch);
    expect(updated.statusCode).toBe(200);
    const patchedAgain = await send('PATCH', `/api/products/${id}`, patchKey, patch);
    expect(patchedAgain).toMatchObject({ statusCode: 200, body: updated.body });
    expect(patchedAgain.headers.etag).toBe(updated.headers.etag);
    problem(await h.t.inject({ method: 'PATCH', url: `/api/products/${id}`, ...patch }), 412);
    // A new If-Match is a new request: the old key refuses it.
    problem(
      await send('PATCH', `/api/products/${id}`, patchKey, {
        ...patch,
        headers: { 'if-match': String(updated.headers.etag) },
      }),
      422,
      IDEMPOTENCY_PROBLEMS.reused,
    );

    const deleteKey = randomUUID();
    expect((await send('DELETE', `/api/products/${id}`, deleteKey)).statusCode).toBe(204);
    const deletedAgain = await send('DELETE', `/api/products/${id}`, deleteKey);
    expect(deletedAgain).toMatchObject({ statusCode: 204, body: '' });
    expect(deletedAgain.headers['idempotent-replayed']).toBe('true');
    expect((await h.t.inject({ method: 'DELETE', url: `/api/products/${id}` })).statusCode).toBe(404);

    const restoreKey = randomUUID();
    const restored = await send('POST', `/api/products/${id}/restore`, restoreKey);
    expect(restored.statusCode).toBe(200);
    expect(
      (await send('POST', `/api/products/${id}/restore`, restoreKey)).headers['idempotent-replayed'],
    ).toBe('true');
    const [{ audits }] = await h.sql<{ audits: number }>(
      `SELECT count(*)::int AS audits FROM audit_entry WHERE resource = 'products' AND "recordId" = $1`,
      [String(id)],
    );
    expect(audits).toBe(4); // create, update, delete, restore: once each
  });

  it('reads ignore the header, and a route that did not opt in is unaffected', async () => {
    const { id } = await h.product();
    const read = await h.t.inject({ url: `/api/products/${id}`, headers: { 'idempotency-key': 'x' } });
    expect(read.statusCode).toBe(200);
    const again = await h.t.inject({ url: `/api/products/${id}`, headers: { 'idempotency-key': 'x' } });
    expect(again.headers['idempotent-replayed']).toBeUndefined();
  });
}
