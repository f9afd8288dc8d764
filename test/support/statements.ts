import { DataSource } from 'typeorm';

/** Whether a statement names a table a product page with its categories and tags reads. */
export function onCatalogue(sql: string): boolean {
  return /\b(product|category|tag|product_tags)\b/i.test(sql);
}

/**
 * Runs `request` and returns what it answered with the statements TypeORM sent to PostgreSQL meanwhile on
 * the catalogue's tables. Only those: the job outbox's sweeper (a SELECT on job_outbox every few seconds,
 * even with WORKERS=off) may land in the window, and CI runs have counted it. Every statement passes the
 * logger, whether it came from dataSource.query, a manager, a query builder or a transaction.
 * Example: `const { result, sql } = await catalogueStatements(dataSource, () => t.inject({ url }))`.
 */
export async function catalogueStatements<T>(
  dataSource: DataSource,
  request: () => Promise<T>,
): Promise<{ result: T; sql: string[] }> {
  const logged = jest.spyOn(dataSource.logger, 'logQuery');
  try {
    const result = await request();
    const sql = logged.mock.calls.map(([query]) => query).filter(onCatalogue);
    return { result, sql };
  } finally {
    logged.mockRestore();
  }
}
