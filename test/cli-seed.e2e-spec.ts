import { Client } from 'pg';
import { verifyPassword } from 'src/framework/auth/passwords';
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
  /** What the first `seed --count 1000 --seed 7` printed. */
  let firstRun = '';

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
    firstRun = seeded.output;
    expect(seeded.output).toMatch(
      /^Seeded 1000 products, 20 categories, 15 tags, 24 customers, 150 orders, \d+ order items, 1 staff user, 1 group, 30 daily sales reports \(seed 7\) in [\d.]+ s$/m,
    );
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

  it('makes products in every status, some in the trash and some low on stock, as it reports', async () => {
    const { rows } = await db.query<{ status: string; trashed: number; low: number; n: number }>(
      `SELECT status::text, count(*) FILTER (WHERE "deletedAt" IS NOT NULL)::int AS trashed,
              count(*) FILTER (WHERE stock < 5)::int AS low, count(*)::int AS n
         FROM product GROUP BY status ORDER BY status::text`,
    );
    expect(rows).toEqual([
      { status: 'active', trashed: 0, low: 100, n: 800 },
      { status: 'archived', trashed: 50, low: 0, n: 100 },
      { status: 'draft', trashed: 0, low: 0, n: 100 },
    ]);
    expect(firstRun).toContain("This seed's products: 800 active, 100 archived, 100 draft;");
  });

  it('makes customers with orders in every status over at least 20 of the last 30 days, with items', async () => {
    const { rows: orders } = await db.query<{
      status: string;
      total: string;
      items: string;
      day: string;
      email: string;
    }>(
      `SELECT o.status::text, o.total::text, u.email, to_char(o."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              (SELECT sum(i.quantity * i."unitPrice") FROM order_item i WHERE i."orderId" = o.id)::text AS items
         FROM "order" o JOIN "user" u ON u.id = o."customerId"`,
    );
    expect(orders).toHaveLength(150);
    expect(new Set(orders.map((o) => o.status))).toEqual(
      new Set(['pending', 'paid', 'shipped', 'cancelled']),
    );
    orders.forEach((o) => expect(o.items).toBe(o.total)); // every order has its lines, at its total
    const today = new Date().toISOString().slice(0, 10);
    const monthAgo = new Date(Date.now() - 30 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const days = new Set(orders.map((o) => o.day));
    expect(days.size).toBeGreaterThanOrEqual(20);
    [...days].forEach((day) => expect(day >= monthAgo && day < today).toBe(true));
    expect(new Set(orders.map((o) => o.email)).size).toBeGreaterThan(10);
    orders.forEach((o) => expect(o.email).toMatch(/^[a-z0-9.-]+\.s7-\d+@example\.com$/));
    expect(await count('user')).toBe(25); // 24 customers and the staff user
  });

  it('writes the daily sales reports those orders make, through the reports job', async () => {
    // What the job must have written: per UTC day, the orders that were not cancelled.
    const { rows: expected } = await db.query<{ date: string; ordersCount: number; revenue: string }>(
      `SELECT d::text AS date, count(o.id)::int AS "ordersCount",
              coalesce(sum(o.total), 0)::numeric(14, 2)::text AS revenue
         FROM generate_series(1, 30) n
        CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE 'UTC')::date - n AS d) day
         LEFT JOIN "order" o ON o.status <> 'cancelled'
          AND o."createdAt" >= d::timestamp AT TIME ZONE 'UTC' AND o."createdAt" < (d + 1)::timestamp AT TIME ZONE 'UTC'
        GROUP BY d ORDER BY d`,
    );
    const { rows: reports } = await db.query<{ date: string; ordersCount: number; revenue: string }>(
      `SELECT date::text, "ordersCount", revenue::text FROM daily_sales_report ORDER BY date`,
    );
    expect(reports).toHaveLength(30);
    expect(reports).toEqual(expected);
    expect(reports.filter((r) => r.ordersCount > 0).length).toBeGreaterThanOrEqual(20);
  });

  it('makes a staff user in a group with the shop permissions, and prints the login', async () => {
    const seeded = firstRun;
    const [, email, password] =
      /Staff login \(admin at \/admin\): (\S+) \/ (\S+), in the group "Shop staff"/.exec(seeded)!;
    const { rows } = await db.query<{ passwordHash: string; isStaff: boolean; isSuperuser: boolean }>(
      'SELECT "passwordHash", "isStaff", "isSuperuser" FROM "user" WHERE email = $1',
      [email],
    );
    expect(rows).toEqual([expect.objectContaining({ isStaff: true, isSuperuser: false })]);
    expect(await verifyPassword(rows[0].passwordHash, password)).toBe(true);
    const { rows: granted } = await db.query<{ codename: string }>(
      `SELECT p.codename FROM "user" u JOIN user_groups ug ON ug."userId" = u.id
         JOIN auth_group g ON g.id = ug."groupId" AND g.name = 'Shop staff'
         JOIN group_permissions gp ON gp."groupId" = g.id JOIN permission p ON p.id = gp."permissionId"
        WHERE u.email = $1`,
      [email],
    );
    expect(granted.map((g) => g.codename)).toEqual(
      expect.arrayContaining(['products.change', 'orders.view', 'orders.ship', 'daily-sales-reports.view']),
    );
    expect(granted.map((g) => g.codename)).not.toContain('users.change');
  });

  it('adds nothing and changes nothing when run again with the same seed', async () => {
    const snapshot = async () =>
      (
        await db.query<{ rows: string }>(
          `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS rows FROM (
             SELECT 'product' k, count(*), max("updatedAt") FROM product UNION ALL
             SELECT 'category', count(*), max("updatedAt") FROM category UNION ALL
             SELECT 'tag', count(*), null FROM tag UNION ALL
             SELECT 'product_tags', count(*), null FROM product_tags UNION ALL
             SELECT 'user', count(*), max("updatedAt") FROM "user" UNION ALL
             SELECT 'order', count(*), max("updatedAt") FROM "order" UNION ALL
             SELECT 'order_item', count(*), null FROM order_item UNION ALL
             SELECT 'auth_group', count(*), null FROM auth_group UNION ALL
             SELECT 'user_groups', count(*), null FROM user_groups UNION ALL
             SELECT 'group_permissions', count(*), null FROM group_permissions UNION ALL
             SELECT 'report', count(*), max("updatedAt") FROM daily_sales_report UNION ALL
             SELECT 'audit', count(*), max(at) FROM audit_entry) t`,
        )
      ).rows[0].rows;
    const before = await snapshot();
    const again = run(['--count', '1000', '--seed', '7']);
    expect(again.status).toBe(0);
    expect(again.output).toMatch(
      /^Seeded 0 products, 0 categories, 0 tags, 0 customers, 0 orders, 0 order items, 0 staff users, 0 groups, 0 daily sales reports; already there: 1000 products, 20 categories, 15 tags, 24 customers \(seed 7\)/m,
    );
    expect([await count('product'), await count('category'), await count('tag')]).toEqual([1000, 20, 15]);
    expect(await snapshot()).toBe(before);
  });

  it('adds only the new rows for a larger count, and another set for another seed', async () => {
    const more = run(['--count', '1200', '--seed', '7']);
    expect(more.output).toMatch(
      /^Seeded 200 products, 0 categories, 0 tags, 0 customers, 0 orders, .*; already there: 1000 products/m,
    );
    expect(await count('product')).toBe(1200);

    const other = run(['--seed', '8']); // the default count: 100
    expect(other.status).toBe(0);
    expect(other.output).toMatch(
      /^Seeded 100 products, 20 categories, 15 tags, 24 customers, 150 orders, \d+ order items, 1 staff user, 0 groups, 0 daily sales reports \(seed 8\)/m,
    );
    expect([await count('product'), await count('category'), await count('tag')]).toEqual([1300, 40, 30]);
    // The days both seeds sold on were reported again, with both seeds' orders.
    const { rows: reports } = await db.query<{ ordersCount: number }>(
      'SELECT sum("ordersCount")::int AS "ordersCount" FROM daily_sales_report',
    );
    const { rows: sold } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "order" WHERE status <> 'cancelled'`,
    );
    expect(reports[0].ordersCount).toBe(sold[0].n);
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
      const orders = (where: string) => `
        SELECT u.email, o.status::text, o.total::text, o."createdAt",
               (SELECT array_agg(p.sku || ' x' || i.quantity || ' @ ' || i."unitPrice" ORDER BY p.sku)
                  FROM order_item i JOIN product p ON p.id = i."productId" WHERE i."orderId" = o.id) AS items
          FROM "order" o JOIN "user" u ON u.id = o."customerId" WHERE ${where} ORDER BY o."createdAt", u.email`;
      const seeded = (await db.query(orders("u.email LIKE '%.s7-%'"))).rows;
      expect(seeded).toHaveLength(150);
      expect((await other.query(orders('true'))).rows).toEqual(seeded);
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
