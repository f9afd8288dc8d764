import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { POOL_WAIT_MS, serverPool } from 'src/framework/database/data-source-options';
import type { Problem } from 'src/framework/http/problem';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { waitFor } from 'test/support/wait';

/**
 * Issue 9 §4: races against the real PostgreSQL server (pool of 10 connections), fired with Promise.all
 * through Fastify's in-process `inject`. Each race first proves that it was one: several transactions were
 * open before the first of them committed (statements seen by TypeORM's logger, as in orders.e2e-spec).
 */

type Pair = { accessToken: string; refreshToken: string };

/** Asserts an RFC 9457 problem response with this status and returns its body. */
function problem(res: LightMyRequestResponse, status: number): Problem {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.json<Problem>();
}

/** Counts responses by status code, e.g. `{ 201: 10, 409: 90 }`. */
function statuses(responses: LightMyRequestResponse[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const res of responses) {
    counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
  }
  return counts;
}

describe('concurrency on PostgreSQL: stock, If-Match and refresh tokens under parallel requests', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let category: Category;
  let sku = 0;

  const scalar = async (text: string, parameters: unknown[] = []): Promise<number> =>
    Number((await dataSource.query<{ n: string | number }[]>(text, parameters))[0].n);

  /**
   * Runs `fire` while recording the statements TypeORM sends; returns its result and how many
   * transactions had started before the first COMMIT (more than 1 means they really overlapped).
   */
  async function race<T>(fire: () => Promise<T>): Promise<{ result: T; overlapping: number }> {
    const logged = jest.spyOn(dataSource.logger, 'logQuery');
    try {
      const result = await fire();
      const statements = logged.mock.calls.map(([query]) => query);
      const firstCommit = statements.indexOf('COMMIT');
      const overlapping = statements
        .slice(0, firstCommit < 0 ? statements.length : firstCommit)
        .filter((q) => q.startsWith('START TRANSACTION')).length;
      return { result, overlapping };
    } finally {
      logged.mockRestore();
    }
  }

  async function product(fields: Partial<Product> = {}): Promise<Product> {
    sku += 1;
    return t.factory(Product).create({
      sku: `RACE-${sku}`,
      price: '4.00',
      stock: 100,
      status: ProductStatus.Active,
      category,
      ...fields,
    });
  }

  const place = (customer: TestUser, items: { productId: number; quantity: number }[]) =>
    t.actingAs(customer).inject({ method: 'POST', url: '/api/orders', payload: { items } });

  beforeAll(async () => {
    // No job runner polling the database: the statements logged during a race are the race's own.
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { WORKERS: 'off' } });
    dataSource = t.app.get(DataSource);
    category = await t.factory(Category).create({ name: 'Races', slug: 'races' });
  });
  afterAll(() => t.close());

  describe('orders against limited stock', () => {
    let customers: TestUser[];
    beforeAll(async () => {
      customers = [];
      for (let i = 0; i < 10; i++) {
        customers.push(await t.createUser()); // plain customers: no permissions, no staff flag
      }
    });

    it('100 concurrent orders from 10 customers for 10 units: exactly 10 × 201, 90 × 409 problem+json, stock 0, never negative', async () => {
      const { id: productId } = await product({ price: '3.25', stock: 10 });
      const ordersBefore = await scalar('SELECT count(*) AS n FROM "order"');
      const started = Date.now();
      const { result: responses, overlapping } = await race(() =>
        Promise.all(
          Array.from({ length: 100 }, (_, i) => place(customers[i % 10], [{ productId, quantity: 1 }])),
        ),
      );
      const elapsed = Date.now() - started;
      expect(overlapping).toBeGreaterThan(1);

      expect(statuses(responses)).toEqual({ 201: 10, 409: 90 });
      for (const res of responses.filter((r) => r.statusCode === 409)) {
        // As documented on orders.place: 409 with a pointer at the short line.
        const body = problem(res, 409);
        expect(body).toMatchObject({ title: 'Insufficient stock', status: 409 });
        expect(body.errors).toEqual([
          expect.objectContaining({ pointer: '/items/0/quantity', code: 'stock' }),
        ]);
      }

      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [productId])).toBe(0);
      expect(await scalar('SELECT count(*) AS n FROM "order"')).toBe(ordersBefore + 10);
      expect(
        await scalar('SELECT count(DISTINCT "orderId") AS n FROM order_item WHERE "productId" = $1', [
          productId,
        ]),
      ).toBe(10);
      expect(
        await scalar('SELECT coalesce(sum(quantity), 0) AS n FROM order_item WHERE "productId" = $1', [
          productId,
        ]),
      ).toBe(10);
      // Every created order belongs to the customer who placed it.
      const owners = await dataSource.query<{ customerId: number }[]>(
        'SELECT o."customerId" FROM "order" o JOIN order_item i ON i."orderId" = o.id WHERE i."productId" = $1',
        [productId],
      );
      const createdBy = responses
        .map((res, i) => (res.statusCode === 201 ? customers[i % 10].id : undefined))
        .filter((id) => id !== undefined)
        .sort((a, b) => a - b);
      expect(owners.map((o) => o.customerId).sort((a, b) => a - b)).toEqual(createdBy);
      console.info(
        `100 orders for a stock of 10: ${elapsed} ms, ${overlapping} transactions open before the first commit`,
      );
    });

    it('orders of 3 against a stock of 10 from 30 requests: exactly 3 succeed and 1 unit stays', async () => {
      const { id: productId } = await product({ stock: 10 });
      const { result: responses, overlapping } = await race(() =>
        Promise.all(
          Array.from({ length: 30 }, (_, i) => place(customers[i % 10], [{ productId, quantity: 3 }])),
        ),
      );
      expect(overlapping).toBeGreaterThan(1);
      expect(statuses(responses)).toEqual({ 201: 3, 409: 27 });
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [productId])).toBe(1);
      expect(
        await scalar('SELECT coalesce(sum(quantity), 0) AS n FROM order_item WHERE "productId" = $1', [
          productId,
        ]),
      ).toBe(9);
    });

    it('orders naming two products in opposite orders never deadlock (no 5xx), and stock adds up', async () => {
      const a = await product({ stock: 20 });
      const b = await product({ stock: 20 });
      const { result: responses } = await race(() =>
        Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            place(
              customers[i % 10],
              i % 2 === 0
                ? [
                    { productId: a.id, quantity: 1 },
                    { productId: b.id, quantity: 1 },
                  ]
                : [
                    { productId: b.id, quantity: 1 },
                    { productId: a.id, quantity: 1 },
                  ],
            ),
          ),
        ),
      );
      // A deadlock would surface as a 500 (or a 40P01 retry storm); stock covers 20 orders exactly.
      expect(statuses(responses)).toEqual({ 201: 20, 409: 20 });
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [a.id])).toBe(0);
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [b.id])).toBe(0);
    });

    it('20 concurrent cancels of one order: all 200 (PATCH is idempotent), the stock comes back exactly once', async () => {
      const { id: productId } = await product({ stock: 5 });
      const placed = await place(customers[0], [{ productId, quantity: 2 }]);
      expect(placed.statusCode).toBe(201);
      const orderId = placed.json<{ id: number }>().id;
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [productId])).toBe(3);

      const { result: responses, overlapping } = await race(() =>
        Promise.all(
          Array.from({ length: 20 }, () =>
            t.actingAs(customers[0]).inject({
              method: 'PATCH',
              url: `/api/orders/${orderId}`,
              payload: { status: 'cancelled' },
            }),
          ),
        ),
      );
      expect(overlapping).toBeGreaterThan(1);
      expect(statuses(responses)).toEqual({ 200: 20 });
      // Each PATCH re-reads the order under its row lock: only the first sees "pending" and restocks.
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [productId])).toBe(5);
    });

    it('10 cancels racing 10 shipments of one order: one transition wins, the rest are no-ops or 409, stock consistent', async () => {
      const { id: productId } = await product({ stock: 5 });
      const placed = await place(customers[1], [{ productId, quantity: 2 }]);
      const orderId = placed.json<{ id: number }>().id;
      // Staff with orders.change may ship; the customer may cancel: both through the same PATCH.
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          t.inject({
            method: 'PATCH',
            url: `/api/orders/${orderId}`,
            payload: { status: i % 2 === 0 ? 'cancelled' : 'shipped' },
          }),
        ),
      );
      const [{ status }] = await dataSource.query<{ status: string }[]>(
        'SELECT status FROM "order" WHERE id = $1',
        [orderId],
      );
      expect(['cancelled', 'shipped']).toContain(status);
      // Every request asking for the final status got 200, every one asking for the other got 409.
      const wanted = (i: number) => (i % 2 === 0 ? 'cancelled' : 'shipped');
      responses.forEach((res, i) => {
        if (wanted(i) === status) {
          expect(res.statusCode).toBe(200);
        } else {
          expect(problem(res, 409).title).toBe('Order is final');
        }
      });
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [productId])).toBe(
        status === 'cancelled' ? 5 : 3,
      );
    });
  });

  describe('every pooled connection busy', () => {
    /** Holds all of the app's pooled connections on a live server for `ms`, then lets them go. */
    async function holdPool(ms: number): Promise<{ held: Promise<unknown> }> {
      const pool = serverPool(dataSource)!;
      const size = (pool.options as { max: number }).max;
      const held = Promise.all(
        Array.from({ length: size }, () => dataSource.query(`SELECT pg_sleep(${ms / 1000})`)),
      );
      await waitFor(
        'every pooled connection to be taken',
        () => pool.totalCount === size && pool.idleCount === 0,
      );
      return { held }; // not `held` itself: an async function's result would wait for it
    }

    /** An order for one unit, as the superuser (a write: the resource cache cannot answer it). */
    const order = (productId: number) =>
      t.inject({ method: 'POST', url: '/api/orders', payload: { items: [{ productId, quantity: 1 }] } });

    it('a request queued behind them waits its turn (a burst on a busy machine is not an outage)', async () => {
      const { id } = await product({ stock: 5 });
      const { held } = await holdPool(2_500); // past the former 2 s wait, within POOL_WAIT_MS
      const started = Date.now();
      const res = await order(id);
      const waited = Date.now() - started;
      await held;
      expect(res.statusCode).toBe(201);
      expect(waited).toBeGreaterThan(1_500);
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [id])).toBe(4);
    });

    it(`one queued longer than POOL_WAIT_MS (${POOL_WAIT_MS} ms) answers 503 problem+json with Retry-After and changes nothing`, async () => {
      const { id } = await product({ stock: 5 });
      const orders = await scalar('SELECT count(*) AS n FROM "order"');
      const { held } = await holdPool(POOL_WAIT_MS + 2_000);
      const started = Date.now();
      const res = await order(id);
      const waited = Date.now() - started;
      await held;
      expect(problem(res, 503)).toMatchObject({ status: 503, detail: expect.stringMatching(/database/) });
      expect(res.headers['retry-after']).toBe('5');
      expect(waited).toBeGreaterThanOrEqual(POOL_WAIT_MS - 100);
      expect(waited).toBeLessThan(POOL_WAIT_MS + 1_500);
      expect(await scalar('SELECT stock AS n FROM product WHERE id = $1', [id])).toBe(5);
      expect(await scalar('SELECT count(*) AS n FROM "order"')).toBe(orders);
    }, 20_000);
  });

  describe('PATCH with If-Match', () => {
    it('50 concurrent PATCHes with the same If-Match: 1 × 200, 49 × 412 problem+json, version +1 exactly once', async () => {
      const { id } = await product({ name: 'Contended' });
      const read = await t.inject(`/api/products/${id}`);
      const etag = read.headers.etag as string;
      const version = read.json<{ version: number }>().version;
      expect(etag).toMatch(/^"[^"]+"$/);

      const { result: responses, overlapping } = await race(() =>
        Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            t.inject({
              method: 'PATCH',
              url: `/api/products/${id}`,
              headers: { 'if-match': etag },
              payload: { name: `Writer ${i}` },
            }),
          ),
        ),
      );
      expect(overlapping).toBeGreaterThan(1);
      expect(statuses(responses)).toEqual({ 200: 1, 412: 49 });
      for (const res of responses.filter((r) => r.statusCode === 412)) {
        expect(problem(res, 412)).toMatchObject({
          type: 'urn:nestor:problem:precondition-failed',
          title: 'Precondition Failed',
        });
      }
      const winner = responses.find((r) => r.statusCode === 200)!;
      const [row] = await dataSource.query<{ name: string; version: number }[]>(
        'SELECT name, version FROM product WHERE id = $1',
        [id],
      );
      expect(row.version).toBe(version + 1);
      expect(row.name).toBe(winner.json<{ name: string }>().name);
      expect(winner.headers.etag).not.toBe(etag);
      // The row's history has exactly one update.
      expect(
        await scalar(
          `SELECT count(*) AS n FROM audit_entry WHERE resource = 'products' AND "recordId" = $1 AND operation = 'update'`,
          [String(id)],
        ),
      ).toBe(1);
    });
  });

  describe('refresh token rotation', () => {
    const refresh = (refreshToken: string) =>
      t.anonymous().inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken } });
    const me = (accessToken: string) =>
      t.anonymous().inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${accessToken}` } });
    const tokens = (userId: number) =>
      dataSource.query<{ usedAt: Date | null; revokedAt: Date | null }[]>(
        'SELECT "usedAt", "revokedAt" FROM refresh_token WHERE "userId" = $1 ORDER BY "createdAt"',
        [userId],
      );

    it('30 parallel refreshes of one token: exactly one 200; the 29 losers get 401 and the winner keeps a working session', async () => {
      const user = await t.createUser();
      const { result: responses, overlapping } = await race(() =>
        Promise.all(Array.from({ length: 30 }, () => refresh(user.refreshToken))),
      );
      expect(overlapping).toBeGreaterThan(1);
      expect(statuses(responses)).toEqual({ 200: 1, 401: 29 });
      for (const res of responses.filter((r) => r.statusCode === 401)) {
        expect(problem(res, 401).detail).toMatch(/parallel request/);
      }
      // Before the fix the losers took the race for a replay and revoked the family: the winner's new
      // refresh token was dead on arrival, so the client that "won" was logged out anyway.
      const rows = await tokens(user.id);
      expect(rows).toHaveLength(2);
      expect(rows.every((r) => r.revokedAt === null)).toBe(true);
      const won = responses.find((r) => r.statusCode === 200)!.json<Pair>();
      expect((await me(won.accessToken)).statusCode).toBe(200);
      const next = await refresh(won.refreshToken);
      expect(next.statusCode).toBe(200);
      expect((await me(next.json<Pair>().accessToken)).statusCode).toBe(200);
    });

    it('a replay that arrives after the rotation finished still revokes the whole family (theft), winner included', async () => {
      const user = await t.createUser();
      const { result: responses } = await race(() =>
        Promise.all(Array.from({ length: 10 }, () => refresh(user.refreshToken))),
      );
      expect(statuses(responses)).toEqual({ 200: 1, 401: 9 });
      const won = responses.find((r) => r.statusCode === 200)!.json<Pair>();

      const replay = await refresh(user.refreshToken); // sequential: the rotation is over
      expect(problem(replay, 401).detail).toMatch(/Log in again/);
      problem(await refresh(won.refreshToken), 401);
      expect((await tokens(user.id)).every((r) => r.revokedAt !== null)).toBe(true);
    });

    it('parallel replays of an already rotated token: all 401, and the family is revoked', async () => {
      const user = await t.createUser();
      const first = await refresh(user.refreshToken);
      expect(first.statusCode).toBe(200);
      const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(user.refreshToken)));
      expect(statuses(responses)).toEqual({ 401: 10 });
      problem(await refresh(first.json<Pair>().refreshToken), 401);
      expect((await tokens(user.id)).every((r) => r.revokedAt !== null)).toBe(true);
    });
  });
});
