import { Client } from 'pg';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { cli, ensureBuild } from 'test/support/processes';

/** Seeded products as comparable data (no ids): their columns, category and tags. */
const products = (where = 'true') => `
  SELECT p.sku, p.name, p.description, p.price::text, p.stock, p.status::text, c.slug AS category,
         parent.slug AS "parentCategory", p."createdAt", p."updatedAt",
         coalesce((SELECT array_agg(t.name ORDER BY t.name) FROM product_tags pt JOIN tag t ON t.id = pt."tagId"
                    WHERE pt."productId" = p.id), '{}') AS tags
    FROM product p JOIN category c ON c.id = p."categoryId" LEFT JOIN category parent ON parent.id = c."parentId"
   WHERE ${where} ORDER BY p.sku`;

describe('nestor seed', () => {
  let first: TestDatabase;
  let second: TestDatabase;
  let db: Client;

  const run = (args: string[], database = first) =>
    cli(['seed', ...args], { DATABASE_URL: database.url, LOG_LEVEL: 'warn' });
  const count = async (table: string, client = db): Promise<number> =>
    (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n;

  beforeAll(async () => {
    ensureBuild();
    [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    db = new Client({ connectionString: first.url });
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    await Promise.all([first?.drop(), second?.drop()]);
  });

  it('refuses an unmigrated database with a coded message, creating nothing', async () => {
    const refused = run(['--count', '5']);
    expect(refused.status).toBe(1);
    expect(refused.output).toMatch(
      /NST-S001 The database is not migrated \(\d+ pending, first \w+\): run `nestor migrate`/,
    );
    expect(refused.output).not.toMatch(/\n\s+at /); // one line, no stack
    const { rows } = await db.query<{ table: string | null }>(`SELECT to_regclass('product')::text AS table`);
    expect(rows[0].table).toBeNull();
  });

  it('runs after `nestor migrate` (both databases)', () => {
    for (const database of [first, second]) {
      expect(cli(['migrate'], { DATABASE_URL: database.url, LOG_LEVEL: 'warn' }).status).toBe(0);
    }
  });

  it('seeds 1000 valid products, 20 categories and 15 tags', async () => {
    const started = Date.now();
    const seeded = run(['--count', '1000', '--seed', '7']);
    const elapsed = Date.now() - started;
    expect(seeded.status).toBe(0);
    expect(seeded.output).toMatch(/^Seeded 1000 products, 20 categories, 15 tags \(seed 7\) in [\d.]+ s$/m);
    console.log(`nestor seed --count 1000: ${elapsed} ms for the whole process; ${seeded.output.trim()}`);

    expect(await count('product')).toBe(1000);
    expect(await count('category')).toBe(20);
    expect(await count('tag')).toBe(15);
    const rows = (await db.query<{ sku: string; price: string; status: string; tags: string[] }>(products()))
      .rows;
    for (const product of rows) {
      expect(product.sku).toMatch(/^S7-\d{6}$/);
      expect(product.price).toMatch(/^\d{1,8}\.\d{2}$/);
      expect(product.tags.length).toBeLessThanOrEqual(3);
    }
    expect(new Set(rows.map((p) => p.status))).toEqual(new Set(['active']));
    expect(rows.filter((p) => p.tags.length > 0).length).toBeGreaterThan(500);
    const { rows: slugs } = await db.query<{ slug: string; parentId: number | null }>(
      'SELECT slug, "parentId" FROM category',
    );
    slugs.forEach((c) => expect(c.slug).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/));
    expect(slugs.filter((c) => c.parentId !== null)).toHaveLength(15);
    const { rows: tagNames } = await db.query<{ name: string }>('SELECT name FROM tag');
    tagNames.forEach((t) => expect(t.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/));
    expect(elapsed).toBeLessThan(30_000); // reported above; a few seconds on a laptop
  });

  it('adds nothing when run again with the same seed', async () => {
    const tags = await count('product_tags');
    const again = run(['--count', '1000', '--seed', '7']);
    expect(again.status).toBe(0);
    expect(again.output).toMatch(
      /^Seeded 0 products, 0 categories, 0 tags; already there: 1000 products, 20 categories, 15 tags \(seed 7\)/m,
    );
    expect([await count('product'), await count('category'), await count('tag')]).toEqual([1000, 20, 15]);
    expect(await count('product_tags')).toBe(tags);
  });

  it('adds only the new rows for a larger count, and another set for another seed', async () => {
    const more = run(['--count', '1200', '--seed', '7']);
    expect(more.output).toMatch(/^Seeded 200 products, 0 categories, 0 tags; already there: 1000 products/m);
    expect(await count('product')).toBe(1200);

    const other = run(['--seed', '8']); // the default count: 100
    expect(other.status).toBe(0);
    expect(other.output).toMatch(/^Seeded 100 products, 20 categories, 15 tags \(seed 8\)/m);
    expect([await count('product'), await count('category'), await count('tag')]).toEqual([1300, 40, 30]);
  });

  it('makes identical rows in another database for the same seed', async () => {
    expect(run(['--count', '1000', '--seed', '7'], second).status).toBe(0);
    const other = new Client({ connectionString: second.url });
    await other.connect();
    try {
      const here = (await db.query(products("p.sku <= 'S7-001000'"))).rows;
      const there = (await other.query(products())).rows;
      expect(there).toHaveLength(1000);
      expect(there).toEqual(here);
    } finally {
      await other.end();
    }
  });

  it.each([['abc'], ['0'], ['1.5']])(
    'refuses --count %s with a clear message, changing nothing',
    async (value) => {
      const before = await count('product');
      const refused = run(['--count', value]);
      expect(refused.status).toBe(2); // bad usage
      expect(refused.output).toContain(
        `option '--count <n>' argument '${value}' is invalid. --count takes a whole number from 1 to 1000000, e.g. --count 500.`,
      );
      expect(await count('product')).toBe(before);
    },
  );
});
