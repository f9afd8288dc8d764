import { DataSource } from 'typeorm';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

/**
 * Generated reads run as prepared statements, which PostgreSQL refuses once a column they return changes
 * type ("cached plan must not change result type"). A rolling deploy does exactly that: `nestor migrate`
 * widens a column while the previous processes still serve.
 */
describe('prepared reads across a migration that changes a returned column', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let id: number;

  beforeAll(async () => {
    // Products are cached by default; every read here must reach the database.
    t = await createTestApp(withFixtures, { as: 'superuser', env: { RESOURCE_CACHE: 'off' } });
    dataSource = t.app.get(DataSource);
    const post = async (url: string, body: Record<string, unknown>) => {
      const res = await t.inject({ method: 'POST', url, payload: body });
      expect(res.statusCode).toBe(201);
      return res.json<{ id: number }>();
    };
    const category = await post('/api/categories', { name: 'Prepared', slug: 'prepared' });
    ({ id } = await post('/api/products', {
      name: 'Widened',
      sku: 'PREP-1',
      price: '3.00',
      categoryId: category.id,
    }));
  });

  afterAll(() => t?.close());

  /** Enough requests that every pooled connection (10) has run, and so prepared, each read. */
  async function readAll(): Promise<{ status: number; name?: string }[]> {
    const answers = [];
    for (const url of [`/api/products/${id}`, '/api/products?limit=5']) {
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

  it('keeps answering 200 after the column is widened, on every pooled connection', async () => {
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
