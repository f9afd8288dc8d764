import type { DataSource, EntityMetadata } from 'typeorm';

/** Distinct shapes kept per resource: clients varying the fields they send cannot grow memory without bound. */
const MAX_SHAPES = 64;

/** The same parameter: identical, or equal objects (a Date or Buffer a transformer built anew). */
function sameParam(a: unknown, b: unknown): boolean {
  return (
    a === b ||
    (typeof a === 'object' &&
      typeof b === 'object' &&
      a !== null &&
      b !== null &&
      a.constructor === b.constructor &&
      JSON.stringify(a) === JSON.stringify(b))
  );
}

function sameParams(built: readonly unknown[], own: readonly unknown[]): boolean {
  return built.length === own.length && built.every((value, i) => sameParam(value, own[i]));
}

/**
 * One row's `INSERT … RETURNING …` as TypeORM's query builder writes it, built once per shape (which
 * columns hold a value once the driver and transformers prepared it) and reused: the builder costs ~30 µs a
 * create. The statement's text depends only on that shape (a column without a value is `DEFAULT`, or `1`
 * for the version column); its parameters are the prepared values in column order, as the builder passes
 * them. A shape whose parameters the builder gives otherwise the first time (a discriminator, a column the
 * builder leaves out) is never reused, nor are values that are SQL (functions).
 * Example: `new InsertStatements(dataSource, metadata).build(values, 'id, name')` → `[sql, params]`.
 */
export class InsertStatements {
  /** Statement text by returning list, then by shape; null for a shape the builder must always write. */
  private readonly byReturning = new Map<string, Map<string, string | null>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly metadata: EntityMetadata,
  ) {}

  /** The statement and its parameters for one row's values (keyed by property name). */
  build(values: Record<string, unknown>, returning: string): [string, unknown[]] {
    const { driver } = this.dataSource;
    const params: unknown[] = [];
    let shape = '';
    // Every column, not only those the builder inserts: a value the builder drops changes the parameters.
    for (const column of this.metadata.columns) {
      const value: unknown = driver.preparePersistentValue(column.getEntityValue(values), column);
      if (typeof value === 'function') {
        return this.builder(values, returning);
      }
      shape += value === undefined ? '0' : '1';
      if (value !== undefined) {
        params.push(value);
      }
    }
    let shapes = this.byReturning.get(returning);
    if (!shapes) {
      shapes = new Map();
      this.byReturning.set(returning, shapes);
    }
    const sql = shapes.get(shape);
    if (typeof sql === 'string') {
      return [sql, params];
    }
    const built = this.builder(values, returning);
    if (sql === undefined && shapes.size < MAX_SHAPES) {
      shapes.set(shape, sameParams(built[1], params) ? built[0] : null);
    }
    return built;
  }

  private builder(values: Record<string, unknown>, returning: string): [string, unknown[]] {
    const [sql, params] = this.dataSource
      .createQueryBuilder()
      .insert()
      .into(this.metadata.target)
      .values(values)
      .returning(returning)
      .updateEntity(false)
      .getQueryAndParameters();
    return [sql, params as unknown[]];
  }
}
