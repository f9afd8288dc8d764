import { createHash } from 'node:crypto';
import type { Pool, QueryConfig, QueryResult } from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { serverPool } from 'src/framework/database/data-source-options';
import { statementsBypassRunner } from 'src/framework/database/statement-safe';
import { READ_TYPES } from 'src/framework/database/read-types';

/** Distinct statement texts prepared per process; beyond this, statements run unprepared (as before). */
const MAX_STATEMENTS = 1000;

/**
 * PostgreSQL's answer to a prepared statement whose result columns changed type since it was prepared (a
 * migration widened `varchar(60)` to `varchar(120)`, say): it refuses it on that connection until the
 * statement is deallocated.
 */
function isStaleResultType(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '0A000' && typeof message === 'string' && message.includes('must not change result type');
}

/**
 * Whether `error` leaves the connection unusable: no SQLSTATE (the connection ended, a client-side
 * timeout), a connection exception (class 08) or the server going away (57P01–57P03). A statement's own
 * error (a unique violation, a missing reference) leaves it ready for the next query.
 */
function breaksConnection(error: unknown): boolean {
  const { code } = error as { code?: unknown };
  return typeof code !== 'string' || code.startsWith('08') || /^57P0[123]$/.test(code);
}

/**
 * `pool.query(config)`, except that a statement's own error returns the connection to the pool: pg-pool's
 * `query` closes it on any error, so every refused create (409, 422) cost a new connection, its login and
 * its prepared statements. pg forgets a named statement whose Parse failed, so the connection stays sound.
 * Example: `const result = await runPooled(pool, { name, text, values })`.
 */
export async function runPooled(pool: Pool, config: QueryConfig): Promise<QueryResult> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // While a client is checked out, pg-pool does not listen for its errors: this does, as pool.query does.
  const onError = (error: Error) => {
    broken = error;
  };
  client.once('error', onError);
  try {
    return await client.query(config);
  } catch (error) {
    if (breaksConnection(error)) {
      broken ??= error as Error;
    }
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/**
 * Runs the generated routes' statements outside transactions (their reads, and creates made in one
 * statement) as server-side prepared statements on a PostgreSQL server: each distinct SQL text gets a stable
 * name, so a pooled connection parses and plans it once instead of on every request (measured with
 * `npm run bench`: a product read with its tag ids went from 6.3k to 17.8k queries/s on 2 cores). They
 * bypass TypeORM's query runner, so a statement that a subscriber watches through its query events
 * (`beforeQuery`, `afterQuery`; see statementsBypassRunner) runs through `dataSource.query` instead, as on
 * embedded PGlite (no `pg` pool). Errors are TypeORM's `QueryFailedError`, as through `dataSource.query`.
 * Example: `const rows = await reads.query<Row[]>('SELECT … WHERE id = $1', [id])`.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();
  /** Texts prepared afresh under a new name after their result type changed: each new name's suffix. */
  private renamed = 0;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * `prepare: false` runs the text unprepared: for texts that vary without bound (an inlined OFFSET) and
   * for filtered lists, where PostgreSQL's generic plan for a prepared statement could suit one value and
   * not another. Behind PgBouncer in transaction mode, prepared statements need PgBouncer 1.21+ with
   * `max_prepared_statements` set.
   */
  async query<T = unknown>(text: string, values: unknown[] = [], prepare = true): Promise<T> {
    const pool = serverPool(this.dataSource);
    if (!pool || !statementsBypassRunner(this.dataSource, text)) {
      // Embedded PGlite (no pool), or a TypeORM subscriber watches this statement's query events
      // (beforeQuery/afterQuery), which only the query runner broadcasts.
      return this.dataSource.query<T>(text, values);
    }
    const name = prepare ? this.nameOf(text) : undefined;
    // Through TypeORM's logger like every other statement: query logs, slow-query warnings and tests that
    // count statements must not miss the reads that bypass the query runner.
    const { logger, options } = this.dataSource;
    logger.logQuery(text, values);
    const started = Date.now();
    try {
      // Fast parsers for timestamps and integer arrays (the product rows' dates and id lists), pg's for the rest.
      // Without a name (undefined) pg runs the text unprepared.
      const result: QueryResult = await runPooled(pool, { name, text, values, types: READ_TYPES }).catch(
        (error: unknown) => {
          if (!name || !isStaleResultType(error)) {
            throw error;
          }
          // A migration changed a column this statement returns while this process runs (a rolling
          // deploy). Every pooled connection holds the old statement, so the text is prepared afresh under
          // a new name, once for this process rather than once per connection; the old ones go with their
          // connections. PostgreSQL refuses the statement before running it, so a create is not run twice.
          return runPooled(pool, { name: this.rename(text, name), text, values, types: READ_TYPES });
        },
      );
      const took = Date.now() - started;
      if (options.maxQueryExecutionTime && took > options.maxQueryExecutionTime) {
        logger.logQuerySlow(took, text, values);
      }
      return result.rows as T;
    } catch (error) {
      logger.logQueryError(error as Error, text, values);
      throw new QueryFailedError(text, values, error as Error);
    }
  }

  /** A new name for `text` after `stale` failed, unless a request that failed alongside gave it one. */
  private rename(text: string, stale: string): string {
    const current = this.names.get(text)!;
    if (current !== stale) {
      return current;
    }
    const name = `${current.slice(0, 24)}_${++this.renamed}`;
    this.names.set(text, name);
    return name;
  }

  private nameOf(text: string): string | undefined {
    let name = this.names.get(text);
    if (!name && this.names.size < MAX_STATEMENTS) {
      name = `nst_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
      this.names.set(text, name);
    }
    return name;
  }
}
