import type { LightMyRequestResponse } from 'fastify';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { TestApp, createTestApp } from 'src/framework/testing';
import { catalogueStatements, onCatalogue } from 'test/support/statements';

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { pointer?: string; code: string; message: string }[];
}

interface OrderItemRow {
  id: number;
  orderId: number;
  productId: number;
  quantity: number;
  unitPrice: string;
  product?: { id: number; name: string; sku: string; price: string };
}

interface OrderRow {
  id: number;
  status: string;
  total: string;
  items?: OrderItemRow[];
}

interface ProductRow {
  id: number;
  categoryId: number;
  tagIds: number[];
  category?: { id: number; slug: string } | null;
  tags?: { id: number; name: string }[];
}

interface ListBody<T> {
  data: T[];
  meta: { limit: number; total: number };
}

/** Asserts an RFC 9457 problem response and returns its body. */
function problem(res: LightMyRequestResponse, status: number): ProblemBody {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.json<ProblemBody>();
}

describe('orders on PostgreSQL', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let sku = 0;
  let category: Category;

  const sql = <T>(text: string, parameters: unknown[] = []): Promise<T[]> =>
    dataSource.query<T[]>(text, parameters);
  const scalar = async (text: string, parameters: unknown[] = []): Promise<number> =>
    Number((await sql<{ n: string }>(text, parameters))[0].n);

  /** Saves an active product (10.00, stock 100 unless given) through its factory and returns its id. */
  async function product(
    fields: {
      price?: string;
      stock?: number;
      status?: ProductStatus;
      category?: Category;
      tags?: Tag[];
    } = {},
  ): Promise<number> {
    sku += 1;
    const saved = await t.factory(Product).create({
      sku: `SKU-${sku}`,
      price: '10.00',
      stock: 100,
      status: ProductStatus.Active,
      category,
      ...fields,
    });
    return saved.id;
  }

  const place = (items: { productId: number; quantity: number }[]) =>
    t.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ items }),
    });

  const counts = async () => ({
    orders: await scalar('SELECT count(*) AS n FROM "order"'),
    items: await scalar('SELECT count(*) AS n FROM order_item'),
  });
  const stockOf = (id: number) => scalar('SELECT stock AS n FROM product WHERE id = $1', [id]);

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      // No background job runner polling the database while statements are counted.
      env: { WORKERS: 'off' },
    });
    dataSource = t.app.get(DataSource);
    category = await t.factory(Category).create({ name: 'Default', slug: 'default' });
  });
  afterAll(() => t.close());

  it('sells exactly the stock to 50 concurrent orders: 10 × 201, 40 × 409, stock 0', async () => {
    const productId = await product({ price: '2.50', stock: 10 });
    const before = await counts();
    // The product's row is held locked until several orders wait on it, so they really race however
    // slowly the machine runs them (on a busy one, the first order used to commit before the second began).
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    const logged = jest.spyOn(dataSource.logger, 'logQuery');
    const started = Date.now();
    let pending: Promise<LightMyRequestResponse[]>;
    try {
      await holder.query('SELECT id FROM product WHERE id = $1 FOR UPDATE', [productId]);
      pending = Promise.all(Array.from({ length: 50 }, () => place([{ productId, quantity: 1 }])));
      // Asked on the holder's own connection: the pool's others are all taken by the waiting orders.
      const waitingOnLocks = async () => {
        await holder.query('SELECT pg_stat_clear_snapshot()'); // a transaction sees one snapshot otherwise
        const [{ n }] = (await holder.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )) as { n: number }[];
        return n;
      };
      while ((await waitingOnLocks()) < 2 && Date.now() - started < 20_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      // Released whatever happened: a connection left in a transaction would keep the orders waiting.
      await holder.commitTransaction();
      await holder.release();
    }
    const responses = await pending;
    const elapsed = Date.now() - started;
    const statements = logged.mock.calls.map(([query]) => query);
    logged.mockRestore();
    // Really concurrent: several transactions were open (waiting on the row lock) before the first commit.
    const overlapping = statements
      .slice(0, statements.indexOf('COMMIT'))
      .filter((q) => q.startsWith('START TRANSACTION')).length;
    expect(overlapping).toBeGreaterThan(1);

    const created = responses.filter((r) => r.statusCode === 201);
    const refused = responses.filter((r) => r.statusCode !== 201);
    expect(created).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const res of refused) {
      const body = problem(res, 409);
      expect(body.errors?.[0]).toMatchObject({ pointer: '/items/0/quantity', code: 'stock' });
    }
    const orderIds = created.map((r) => r.json<OrderRow>().id);
    expect(new Set(orderIds).size).toBe(10);
    for (const res of created) {
      const order = res.json<OrderRow>();
      expect(order.total).toBe('2.50');
      expect(res.headers.location).toBe(`/api/orders/${order.id}`);
    }

    expect(await stockOf(productId)).toBe(0);
    const after = await counts();
    expect(after.orders - before.orders).toBe(10);
    expect(after.items - before.items).toBe(10);
    expect(
      await scalar('SELECT count(*) AS n FROM order_item WHERE "productId" = $1 AND quantity = 1', [
        productId,
      ]),
    ).toBe(10);
    // Reported, not asserted tightly: 50 requests through one pool of connections.
    expect(elapsed).toBeLessThan(30_000);
    console.log(
      `50 concurrent orders for a stock of 10: ${elapsed} ms, ${overlapping} transactions open before the first commit`,
    );
  });

  it('totals unit price × quantity exactly, in decimal', async () => {
    const dime = await product({ price: '0.10' });
    const odd = await product({ price: '19.99' });
    const res = await place([
      { productId: dime, quantity: 3 },
      { productId: odd, quantity: 3 },
      { productId: dime, quantity: 4 },
    ]);
    expect(res.statusCode).toBe(201);
    const order = res.json<OrderRow>();
    // 0.10 × 7 + 19.99 × 3 = 0.70 + 59.97: a float sum would give 60.669999…
    expect(order.total).toBe('60.67');
    expect(order.items?.map((i) => [i.productId, i.quantity, i.unitPrice])).toEqual([
      [dime, 3, '0.10'],
      [odd, 3, '19.99'],
      [dime, 4, '0.10'],
    ]);
    expect(await stockOf(dime)).toBe(93);

    const single = await place([{ productId: dime, quantity: 3 }]);
    expect(single.json<OrderRow>().total).toBe('0.30');
    const stored = await t.inject(`/api/orders/${single.json<OrderRow>().id}`);
    expect(stored.json<OrderRow>().total).toBe('0.30');
  });

  it.each([
    ['an unknown product', () => Promise.resolve(2_000_000_000)],
    ['a draft product', () => product({ status: ProductStatus.Draft })],
    ['an archived product', () => product({ status: ProductStatus.Archived })],
  ])('answers %s with 422 pointing at its line, writing nothing', async (_title, makeProduct) => {
    const good = await product({ stock: 5 });
    const bad = await makeProduct();
    const before = await counts();
    const body = problem(
      await place([
        { productId: good, quantity: 1 },
        { productId: bad, quantity: 1 },
      ]),
      422,
    );
    expect(body.type).toBe('urn:nestor:problem:validation-failed');
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/items/1/productId', code: 'exists' })]);
    expect(await counts()).toEqual(before);
    expect(await stockOf(good)).toBe(5);
  });

  it('answers a soft-deleted product with 422, like an unknown one', async () => {
    const gone = await product();
    await sql(`UPDATE product SET "deletedAt" = now() WHERE id = $1`, [gone]);
    const body = problem(await place([{ productId: gone, quantity: 1 }]), 422);
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/items/0/productId' })]);
    expect(await stockOf(gone)).toBe(100);
  });

  it('answers a product id beyond PostgreSQL integers with 422 at its pointer, not a SQL error', async () => {
    const body = problem(await place([{ productId: 3_000_000_000, quantity: 1 }]), 422);
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/items/0/productId' })]);
  });

  it('answers a total beyond numeric(12,2) with 422, writing nothing', async () => {
    const dear = await product({ price: '99999999.99', stock: 10_000 });
    const before = await counts();
    const body = problem(
      await place([
        { productId: dear, quantity: 1000 },
        { productId: dear, quantity: 1000 },
      ]),
      422,
    );
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/items', code: 'max' })]);
    expect(await counts()).toEqual(before);
    expect(await stockOf(dear)).toBe(10_000);
    // Just below the limit is fine: 99999999.99 × 100 = 9999999999.00.
    const res = await place([{ productId: dear, quantity: 100 }]);
    expect(res.statusCode).toBe(201);
    expect(res.json<OrderRow>().total).toBe('9999999999.00');
  });

  it('reports stock shortage per line and writes nothing', async () => {
    const plenty = await product({ stock: 5 });
    const scarce = await product({ stock: 2 });
    const before = await counts();
    const body = problem(
      await place([
        { productId: plenty, quantity: 5 },
        { productId: scarce, quantity: 3 },
      ]),
      409,
    );
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/items/1/quantity' })]);
    expect(await counts()).toEqual(before);
    expect([await stockOf(plenty), await stockOf(scarce)]).toEqual([5, 2]);
  });

  it('GET /api/orders/:id?include=items.product nests the items with their products', async () => {
    const first = await product({ price: '1.25' });
    const second = await product({ price: '3.00' });
    const placed = await place([
      { productId: second, quantity: 2 },
      { productId: first, quantity: 1 },
    ]);
    expect(placed.statusCode).toBe(201);
    const { id } = placed.json<OrderRow>();

    const res = await t.inject(`/api/orders/${id}?include=items.product`);
    expect(res.statusCode).toBe(200);
    const order = res.json<OrderRow>();
    expect(order).toMatchObject({ id, status: 'pending', total: '7.25' });
    expect(order.items).toHaveLength(2);
    const byProduct = new Map(order.items?.map((item) => [item.productId, item]));
    expect(byProduct.get(second)).toMatchObject({
      orderId: id,
      quantity: 2,
      unitPrice: '3.00',
      product: { id: second, price: '3.00', sku: expect.stringMatching(/^SKU-/) },
    });
    expect(byProduct.get(first)).toMatchObject({
      quantity: 1,
      unitPrice: '1.25',
      product: { id: first, price: '1.25' },
    });
  });

  it('/api/order-items lists the lines for those with order-items.view, read-only; customers read theirs on the order', async () => {
    const item = await product({ price: '2.00' });
    const placed = await place([{ productId: item, quantity: 3 }]);
    expect(placed.statusCode).toBe(201);
    const { id } = placed.json<OrderRow>();

    const lines = await t.inject(`/api/order-items?filter[orderId]=${id}&include=product`);
    expect(lines.statusCode).toBe(200);
    const [line, ...others] = lines.json<ListBody<OrderItemRow>>().data;
    expect(others).toEqual([]);
    expect(line).toMatchObject({
      orderId: id,
      productId: item,
      quantity: 3,
      unitPrice: '2.00',
      product: { id: item },
    });
    // Lines are written only by placing an order (priced, stock taken): no write routes.
    for (const res of [
      await t.inject({
        method: 'POST',
        url: '/api/order-items',
        payload: { orderId: id, productId: item, quantity: 1 },
      }),
      await t.inject({ method: 'PATCH', url: `/api/order-items/${line.id}`, payload: { quantity: 9 } }),
      await t.inject({ method: 'DELETE', url: `/api/order-items/${line.id}` }),
    ]) {
      expect([404, 405]).toContain(res.statusCode);
    }
    expect(await scalar('SELECT quantity AS n FROM order_item WHERE id = $1', [line.id])).toBe(3);

    const customer = await t.createUser();
    problem(
      await t.inject({ url: `/api/order-items?filter[orderId]=${id}`, headers: customer.headers }),
      403,
    );
  });

  describe('includes are loaded in batches', () => {
    beforeAll(async () => {
      const categories = await t.factory(Category).createMany(5);
      const tags = await t.factory(Tag).createMany(6);
      // Soft-delete everything seeded so far: the list below holds only these 25 products.
      await sql(`UPDATE product SET "deletedAt" = now()`);
      for (let i = 0; i < 25; i += 1) {
        await product({
          category: categories[i % categories.length],
          tags: [tags[i % tags.length], tags[(i + 1) % tags.length]],
        });
      }
    });

    /** Runs one anonymous request (the catalogue is public: a signed-in caller adds a principal read). */
    async function statementsOf(url: string): Promise<{ res: LightMyRequestResponse; sql: string[] }> {
      // Generated reads go to a pooled client as prepared statements, around TypeORM's query runner: every
      // statement any client sends is seen here, those of the runner too.
      const direct = jest.spyOn(Client.prototype, 'query');
      try {
        const { result, sql } = await catalogueStatements(dataSource, () =>
          t.inject({ url, headers: { authorization: undefined } }),
        );
        const sent = direct.mock.calls
          .map(([query]) => (typeof query === 'string' ? query : (query as { text: string }).text))
          .filter(onCatalogue);
        // The logger still saw each of them: nothing reads around it.
        expect(sent.length).toBeGreaterThan(0);
        for (const query of sent) {
          expect(sql).toContain(query);
        }
        return { res: result, sql };
      } finally {
        direct.mockRestore();
      }
    }

    it('runs the same number of statements for 2 and for 20 rows with include=category,tags', async () => {
      const small = await statementsOf('/api/products?include=category,tags&limit=2');
      const large = await statementsOf('/api/products?include=category,tags&limit=20');

      for (const [{ res }, rows] of [
        [small, 2],
        [large, 20],
      ] as const) {
        expect(res.statusCode).toBe(200);
        const body = res.json<ListBody<ProductRow>>();
        expect(body.meta).toMatchObject({ limit: rows, total: 25 });
        expect(body.data).toHaveLength(rows);
        for (const row of body.data) {
          expect(row.category?.id).toBe(row.categoryId);
          expect(row.tags?.map((tag) => tag.id).sort()).toEqual([...row.tagIds].sort());
          expect(row.tags).toHaveLength(2);
        }
      }
      console.log(`statements for limit=2: ${small.sql.length}, for limit=20: ${large.sql.length}`);
      expect(large.sql.length).toBe(small.sql.length);
      // The page (which joins the categories and counts the list), then the tags.
      expect(large.sql).toHaveLength(2);
    });

    it('reads one row with its category joined, then its tags: two statements', async () => {
      const listed = (await statementsOf('/api/products?limit=1')).res.json<ListBody<ProductRow>>().data[0];
      const one = await statementsOf(`/api/products/${listed.id}?include=category,tags`);
      expect(one.res.statusCode).toBe(200);
      expect(one.res.json<ProductRow>().category?.id).toBe(listed.categoryId);
      expect(one.sql).toHaveLength(2);
      expect(one.sql[0]).toContain('LEFT JOIN "category"');
    });
  });
});
