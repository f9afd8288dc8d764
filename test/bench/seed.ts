import { Client } from 'pg';

export const CATEGORIES = 50;
export const TAGS = 20;

/**
 * Seeds the catalogue with plain SQL (generate_series), so every contender reads the same rows: 50 categories,
 * 20 tags, `rows` products (prices 0.01…499.99, distinct below 50,000 rows; one in ten a draft; a third tagged;
 * createdAt one second apart) — then VACUUM ANALYZE so every plan starts from the same statistics.
 */
export async function seedCatalog(url: string, rows: number): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO category (name, slug, description, "createdAt", "updatedAt")
       SELECT 'Category ' || g, 'category-' || g, 'Everything in category ' || g,
              timestamptz '2026-01-01' + g * interval '1 minute', timestamptz '2026-01-01' + g * interval '1 minute'
         FROM generate_series(1, $1::int) g`,
      [CATEGORIES],
    );
    await client.query(`INSERT INTO tag (name) SELECT 'tag-' || g FROM generate_series(1, $1::int) g`, [
      TAGS,
    ]);
    await client.query(
      `INSERT INTO product (name, sku, description, price, stock, status, "categoryId", "createdAt", "updatedAt", version)
       SELECT 'Product ' || g, 'SKU-' || lpad(g::text, 8, '0'), 'A fine product, number ' || g,
              1 + ((g::bigint * 7919) % 49999) / 100.0, g % 200,
              (CASE WHEN g % 10 = 0 THEN 'draft' ELSE 'active' END)::product_status,
              1 + g % $2::int, timestamptz '2026-01-01' + g * interval '1 second',
              timestamptz '2026-01-01' + g * interval '1 second', 1
         FROM generate_series(1, $1::int) g`,
      [rows, CATEGORIES],
    );
    await client.query(
      `INSERT INTO product_tags ("productId", "tagId") SELECT g, 1 + g % $2::int FROM generate_series(1, $1::int) g
        WHERE g % 3 = 0`,
      [rows, TAGS],
    );
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
}

/** Removes what the create scenario added (products and their audit entries) and re-analyses. */
export async function removeCreated(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DELETE FROM product WHERE sku LIKE 'BENCH-%'`);
    await client.query(`DELETE FROM audit_entry WHERE resource = 'products'`).catch(() => undefined);
    await client.query('VACUUM ANALYZE product');
  } finally {
    await client.end();
  }
}

/** Runs one statement (cleanup between runs). */
export async function execute(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** One value from the database (version strings, counts). */
export async function queryValue<T>(url: string, sql: string): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: T }>(sql);
    return rows[0].v;
  } finally {
    await client.end();
  }
}
