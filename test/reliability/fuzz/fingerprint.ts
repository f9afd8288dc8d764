import { DataSource } from 'typeorm';

/**
 * A cheap per-table fingerprint — row count, plus max("updatedAt") where the table has it — read in one query.
 * Comparing it around a refused request shows whether the request wrote anything.
 */
export async function tableFingerprint(
  dataSource: DataSource,
  exempt: ReadonlySet<string>,
): Promise<() => Promise<Map<string, string>>> {
  const columns = await dataSource.query<{ table_name: string; has_updated: boolean }[]>(
    `SELECT t.table_name,
            EXISTS (SELECT 1 FROM information_schema.columns c
                    WHERE c.table_schema = 'public' AND c.table_name = t.table_name AND c.column_name = 'updatedAt') AS has_updated
     FROM information_schema.tables t
     WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
     ORDER BY t.table_name`,
  );
  const tables = columns.filter((c) => !exempt.has(c.table_name));
  const sql = `SELECT ${tables
    .map(
      (c, i) =>
        `(SELECT count(*)::text${c.has_updated ? ` || '/' || coalesce(max("updatedAt")::text, '-')` : ''} FROM "${c.table_name}") AS t${i}`,
    )
    .join(', ')}`;
  return async () => {
    const [row] = await dataSource.query<Record<string, string>[]>(sql);
    return new Map(tables.map((c, i) => [c.table_name, row[`t${i}`]]));
  };
}
