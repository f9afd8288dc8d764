import { join } from 'node:path';
import * as pg from 'pg';
import type { Pool } from 'pg';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { EMBEDDED_SOCKET_PORT } from 'src/framework/database/embedded-socket';
import { createPGliteDriver, sharedSocketDir } from 'src/framework/database/pglite-driver';
import { TypeOrmLogger } from 'src/framework/database/typeorm-logger';

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
      // Also the longest a request waits for a pooled connection: a hung or saturated server answers 503
      // within seconds (with DatabaseHangGuard for connections already waiting on it).
      connectTimeoutMS: 2000,
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
      connectTimeoutMS: 2000,
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
