import { DataSource, EntitySubscriberInterface } from 'typeorm';
import type { AfterQueryEvent, BeforeQueryEvent } from 'typeorm/subscriber/event/QueryEvent.js';
import { serverPool } from 'src/framework/database/data-source-options';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

/**
 * The generated routes' statements outside transactions (reads, one-statement creates) run prepared: parsed
 * and planned once per pooled connection. A create that a TypeORM subscriber watches through its query
 * events stays in TypeORM's query runner, which broadcasts them.
 */
describe("generated routes' prepared statements", () => {
  let t: TestApp;
  let dataSource: DataSource;
  let id: number;
  let categoryId: number;
  let sku = 0;

  const post = async (url: string, body: Record<string, unknown>) => {
    const res = await t.inject({ method: 'POST', url, payload: body });
    expect({ status: res.statusCode, body: res.body }).toMatchObject({ status: 201 });
    return res.json<{ id: number }>();
  };

  /** The statements prepared on any idle pooled connection whose text starts with `prefix`. */
  async function preparedOnPool(prefix: string): Promise<string[]> {
    const pool = serverPool(dataSource)!;
    const clients = await Promise.all(Array.from({ length: pool.idleCount }, () => pool.connect()));
    try {
      const found = await Promise.all(
        clients.map((client) =>
          client.query<{ statement: string }>(
            'SELECT statement FROM pg_prepared_statements WHERE starts_with(statement, $1)',
            [prefix],
          ),
        ),
      );
      return found.flatMap((result) => result.rows.map((row) => row.statement));
    } finally {
      clients.forEach((client) => client.release());
    }
  }

  beforeAll(async () => {
    // Products are cached by default; every read here must reach the database.
    t = await createTestApp(withFixtures, { as: 'superuser', env: { RESOURCE_CACHE: 'off' } });
    dataSource = t.app.get(DataSource);
    ({ id: categoryId } = await post('/api/categories', { name: 'Prepared', slug: 'prepared' }));
    ({ id } = await post('/api/products', {
      name: 'Widened',
      sku: `PREP-${++sku}`,
      price: '3.00',
      categoryId,
    }));
  });

  afterAll(() => t?.close());

  /** Enough requests that every pooled connection (10) has run, and so prepared, each read. */
  async function readAll(): Promise<{ status: number; name?: string }[]> {
    const answers = [];
    for (const url of [`/api/products/${id}`, '/api/products?limit=5&sort=id']) {
      const batch = await Promise.all(Array.from({ length: 30 }, () => t.inject(url)));
      answers.push(
        ...batch.map((res) => ({
          status: res.statusCode,
          name:
            res.statusCode === 200
              ? (res.json<{ name?: string; data?: { name: string }[] }>().name ??
                res.json<{ data: { name: string }[] }>().data[0]?.name)
              : res.body,
        })),
      );
    }
    return answers;
  }

  it('creates a product and its audit entry with one prepared statement', async () => {
    const created = await post('/api/products', {
      name: 'Once',
      sku: `PREP-${++sku}`,
      price: '4.00',
      categoryId,
    });
    expect(await preparedOnPool('WITH created AS (INSERT INTO "product"')).toHaveLength(1);
    const [entry] = await dataSource.query<{ operation: string; changes: Record<string, unknown> }[]>(
      `SELECT operation, changes FROM audit_entry WHERE resource = 'products' AND "recordId" = $1`,
      [String(created.id)],
    );
    expect(entry).toMatchObject({
      operation: 'create',
      changes: { name: [null, 'Once'], price: [null, '4.00'] },
    });
  });

  it("leaves a create to TypeORM's query runner while a subscriber watches query events", async () => {
    const seen: string[] = [];
    // Listens to another entity's events, so tags are still created in one statement; and to every query.
    const watcher: EntitySubscriberInterface = {
      listenTo: () => class Elsewhere {},
      afterQuery: (event: AfterQueryEvent) => void seen.push(event.query),
    };
    dataSource.subscribers.push(watcher);
    try {
      await post('/api/tags', { name: 'watched' });
    } finally {
      dataSource.subscribers.splice(dataSource.subscribers.indexOf(watcher), 1);
    }
    expect(seen.filter((sql) => sql.startsWith('WITH created AS (INSERT INTO "tag"'))).toHaveLength(1);
    expect(await preparedOnPool('WITH created AS (INSERT INTO "tag"')).toEqual([]);
  });

  it("runs reads in TypeORM's query runner while a subscriber watches their query events", async () => {
    const seen: string[] = [];
    const watcher: EntitySubscriberInterface = {
      beforeQuery: (event: BeforeQueryEvent) => void seen.push(event.query),
    };
    dataSource.subscribers.push(watcher);
    try {
      expect((await t.inject(`/api/products/${id}`)).statusCode).toBe(200);
      expect((await t.inject('/api/products?limit=5&sort=id&include=category,tags')).statusCode).toBe(200);
    } finally {
      dataSource.subscribers.splice(dataSource.subscribers.indexOf(watcher), 1);
    }
    const products = seen.filter((sql) => /FROM "product" t\b/.test(sql));
    // The single read and the page (which joins the category), each seen once; and the include's tags read.
    expect(products.filter((sql) => sql.includes('WHERE t."id" = $1'))).toHaveLength(1);
    expect(
      products.filter((sql) => sql.includes('LIMIT') && sql.includes('LEFT JOIN "category"')),
    ).toHaveLength(1);
    expect(seen.filter((sql) => /JOIN "tag" r\d/.test(sql)).length).toBeGreaterThan(0);
  });

  // Last: it changes the schema. PostgreSQL refuses a prepared statement once a column it returns changed
  // type ("cached plan must not change result type"); a rolling deploy does exactly that, as `nestor
  // migrate` widens a column while the previous processes still serve.
  it('keeps answering reads 200 after a returned column is widened, on every pooled connection', async () => {
    expect(new Set((await readAll()).map((a) => JSON.stringify(a)))).toEqual(
      new Set([JSON.stringify({ status: 200, name: 'Widened' })]),
    );
    await dataSource.query('ALTER TABLE product ALTER COLUMN name TYPE varchar(400)');

    expect(new Set((await readAll()).map((a) => JSON.stringify(a)))).toEqual(
      new Set([JSON.stringify({ status: 200, name: 'Widened' })]),
    );
    // And keeps doing so: the statements prepared afresh serve the next requests.
    expect(new Set((await readAll()).map((a) => a.status))).toEqual(new Set([200]));
  });
});
