import { join } from 'node:path';
import * as pg from 'pg';
import type { Pool } from 'pg';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { EMBEDDED_SOCKET_PORT } from 'src/framework/database/embedded-socket';
import { createPGliteDriver, sharedSocketDir } from 'src/framework/database/pglite-driver';
import { TypeOrmLogger } from 'src/framework/database/typeorm-logger';

/**
 * The longest a request waits for a pooled connection, or for a new one to open, before it answers 503 with
 * Retry-After. A burst queued behind one locked row on a busy machine waits its turn: 100 concurrent orders
 * of one product take 1.6 s in CI on 2 cores, and a slower run got fifteen 503s at the former 2 s. Not
 * Rails' 5 s: a new connection to a SIGSTOPped server then outlasted DatabaseHangGuard's probe window and
 * answered after 4.5 s (2 runs of 3); at 3 s it answers within about 3.3 s, as the queries already on it.
 */
export const POOL_WAIT_MS = 3_000;

/** Where an app keeps its migrations: file globs or migration classes. */
export type Migrations = NonNullable<DataSourceOptions['migrations']>;

/**
 * The TypeORM options for a configuration: a PostgreSQL server when `DATABASE_URL` is set, else embedded
 * PGlite in `DATA_DIR/pglite` (or in memory), opened here or, for a borrower, through the socket of the
 * process that holds it. `synchronize` is never on: the schema only changes through
 * migrations.
 */
export function dataSourceOptions(config: NestorConfig, migrations: Migrations): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    synchronize: false,
    migrations,
    migrationsRun: config.migrateOnBoot,
    migrationsTransactionMode: 'each' as const,
    // gen_random_uuid() is built into PostgreSQL 13+, so no extension needs installing.
    uuidExtension: 'pgcrypto' as const,
    installExtensions: false,
    logger: new TypeOrmLogger(['warn', 'migration']),
  };
  if (config.databaseUrl) {
    return {
      ...common,
      url: config.databaseUrl,
      poolSize: 10,
      connectTimeoutMS: POOL_WAIT_MS,
      applicationName: 'nestor',
    };
  }
  if (config.inMemoryDatabase) {
    return { ...common, driver: createPGliteDriver() };
  }
  const dataDir = join(config.dataDir, 'pglite');
  const socketDir = config.embeddedSharing === 'borrow' ? sharedSocketDir(dataDir) : undefined;
  if (socketDir) {
    // Another process holds the files and shares them: connect to it as to a server on a Unix socket. Naming
    // `pg` as the driver keeps it the embedded database for serverPool (no named statements, no hang guard).
    return {
      ...common,
      driver: pg,
      host: socketDir,
      port: EMBEDDED_SOCKET_PORT,
      username: 'postgres',
      database: 'postgres',
      poolSize: 4,
      connectTimeoutMS: POOL_WAIT_MS,
      applicationName: 'nestor',
    };
  }
  return {
    ...common,
    driver: createPGliteDriver(dataDir, { share: config.embeddedSharing === 'serve' }),
  };
}

/**
 * TypeORM's pg pool when the data source is one PostgreSQL server (not PGlite's single connection, not a
 * replication set). Example: `serverPool(dataSource)?.totalCount`.
 */
export function serverPool(dataSource: DataSource): Pool | undefined {
  const options = dataSource.options as { type: string; driver?: unknown; replication?: unknown };
  if (options.type !== 'postgres' || options.driver || options.replication) {
    return undefined;
  }
  const master = (dataSource.driver as unknown as { master?: Pool }).master;
  return master && typeof master.query === 'function' && 'totalCount' in master ? master : undefined;
}
