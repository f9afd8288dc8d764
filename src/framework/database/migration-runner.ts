import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, MigrationExecutor, MigrationInterface } from 'typeorm';

/** Where the framework records its own migrations; the app's stay in TypeORM's `migrations` table. */
export const FRAMEWORK_MIGRATIONS_TABLE = 'nestor_migrations';

/** The table every migration of Nestor 0.1 (framework and app tables mixed) was recorded in. */
const LEGACY_MIGRATIONS_TABLE = 'migrations';

/** Shipped with the framework, beside this file: `.ts` from source, `.js` from a build or the package. */
const FRAMEWORK_MIGRATIONS_DIR = join(__dirname, 'migrations');

/**
 * A migration that stands for older ones, like a squashed Django migration: on a database where every
 * migration it `replaces` was applied (by name, in the `migrations` table), it is recorded as applied
 * without running, since those already built what it builds. On a fresh database it runs as usual.
 * Example: `export class ShopInitial1796300000000 implements SquashedMigration { replaces = ['InitialCatalog1795739610182']; … }`.
 */
export interface SquashedMigration extends MigrationInterface {
  replaces: readonly string[];
}

/** What {@link runAllMigrations} did, in order: the framework's first, then the app's. */
export interface AppliedMigrationNames {
  /** The framework's migrations that ran. */
  framework: string[];
  /** The app's migrations that ran. */
  app: string[];
  /** Squashed migrations recorded as applied without running: they replace migrations already applied. */
  recorded: string[];
}

const nameOf = (migration: MigrationInterface): string => migration.name ?? migration.constructor.name;

const isSquashed = (migration: MigrationInterface): migration is SquashedMigration =>
  Array.isArray((migration as Partial<SquashedMigration>).replaces);

/** The shipped set, read once: the readiness check asks on every probe. */
let shipped: MigrationInterface[] | undefined;

/**
 * The framework's migrations, oldest first: every exported class of `<timestamp>-<Name>.{ts,js}` in
 * src/framework/database/migrations (a `.d.ts` does not match the pattern).
 */
export function frameworkMigrations(directory = FRAMEWORK_MIGRATIONS_DIR): MigrationInterface[] {
  if (directory === FRAMEWORK_MIGRATIONS_DIR && shipped) {
    return shipped;
  }
  // No folder is no migrations: a build leaves out a folder with no sources.
  const found = (existsSync(directory) ? readdirSync(directory) : [])
    .filter((file) => /^\d{13}-[A-Za-z0-9]+\.(js|ts)$/.test(file))
    .sort()
    .flatMap((file) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded by name, as TypeORM loads globs
      const exports = require(join(directory, file)) as Record<string, new () => MigrationInterface>;
      return Object.values(exports)
        .filter((value) => typeof value === 'function')
        .map((Migration) => new Migration());
    });
  if (directory === FRAMEWORK_MIGRATIONS_DIR) {
    shipped = found;
  }
  return found;
}

/**
 * The data source as TypeORM's migration executor should see it for one set of migrations: the same
 * connection, another table and list. TypeORM runs one set per data source, and PGlite has one
 * connection, so a second data source is no option; the executor reads only `options` and `migrations`.
 */
function viewFor(dataSource: DataSource, table: string, migrations: MigrationInterface[]): DataSource {
  return Object.create(dataSource, {
    options: { value: { ...dataSource.options, migrationsTableName: table } },
    migrations: { value: migrations },
  }) as DataSource;
}

async function appliedNames(dataSource: DataSource, table: string): Promise<Set<string>> {
  const [{ present }] = await dataSource.query<{ present: boolean }[]>(
    'SELECT to_regclass($1) IS NOT NULL AS present',
    [`"${table}"`],
  );
  if (!present) {
    return new Set();
  }
  const rows = await dataSource.query<{ name: string }[]>(`SELECT name FROM "${table}"`);
  return new Set(rows.map((row) => row.name));
}

/**
 * Records as applied, without running them, the squashed migrations whose replaced migrations all ran
 * (Django's `replaces`). Only part of them applied is refused: the database is between two layouts, and
 * no squashed migration can say which of its statements already ran.
 */
async function adoptReplacedHistory(
  dataSource: DataSource,
  table: string,
  migrations: MigrationInterface[],
): Promise<string[]> {
  const applied = await appliedNames(dataSource, table);
  const legacy = await appliedNames(dataSource, LEGACY_MIGRATIONS_TABLE);
  const adopt: MigrationInterface[] = [];
  for (const migration of migrations.filter(isSquashed)) {
    if (applied.has(nameOf(migration))) {
      continue;
    }
    const missing = migration.replaces.filter((name) => !legacy.has(name));
    if (missing.length === 0) {
      adopt.push(migration);
    } else if (missing.length < migration.replaces.length) {
      throw new Error(
        `NST-M008 ${nameOf(migration)} replaces ${migration.replaces.length} older migrations, but the database applied only some of them (missing ${missing.join(', ')}): apply the older migrations to the end with the release that has them, then upgrade`,
      );
    }
  }
  if (adopt.length > 0) {
    const executor = new MigrationExecutor(viewFor(dataSource, table, adopt));
    executor.fake = true;
    await executor.executePendingMigrations();
  }
  return adopt.map(nameOf);
}

async function runSet(
  dataSource: DataSource,
  table: string,
  migrations: MigrationInterface[],
): Promise<{ ran: string[]; recorded: string[] }> {
  const recorded = await adoptReplacedHistory(dataSource, table, migrations);
  for (const name of recorded) {
    dataSource.logger.logMigration(
      `${name} recorded as applied: it replaces migrations this database applied`,
    );
  }
  const executor = new MigrationExecutor(viewFor(dataSource, table, migrations));
  executor.transaction = 'each';
  const ran = await executor.executePendingMigrations();
  return { ran: ran.map((migration) => migration.name), recorded };
}

/**
 * Brings a database up to date: the framework's migrations (table `nestor_migrations`) first, so the app's
 * may reference its tables (a foreign key to `user`), then the app's (TypeORM's `migrations`). Squashed
 * migrations that replace applied ones are recorded, not run. Used by boot, `nestor migrate` and the test kit.
 * Example: `const { framework, app } = await runAllMigrations(dataSource)`.
 */
export async function runAllMigrations(
  dataSource: DataSource,
  fromFramework = frameworkMigrations(),
): Promise<AppliedMigrationNames> {
  const framework = await runSet(dataSource, FRAMEWORK_MIGRATIONS_TABLE, fromFramework);
  const app = await runSet(
    dataSource,
    dataSource.options.migrationsTableName ?? LEGACY_MIGRATIONS_TABLE,
    dataSource.migrations,
  );
  return { framework: framework.ran, app: app.ran, recorded: [...framework.recorded, ...app.recorded] };
}

/** One migration and whether the database applied it; `framework` tells the two sets apart. */
export interface MigrationState {
  name: string;
  framework: boolean;
  applied: boolean;
}

/**
 * Every migration, the framework's first, each oldest first, and whether the database applied it (a
 * squashed migration not yet recorded is pending: the next migrate records it).
 * Example: `(await migrationStates(ds)).filter((m) => !m.applied)` → the pending ones.
 */
export async function migrationStates(
  dataSource: DataSource,
  fromFramework = frameworkMigrations(),
): Promise<MigrationState[]> {
  const sets: [string, MigrationInterface[], boolean][] = [
    [FRAMEWORK_MIGRATIONS_TABLE, fromFramework, true],
    [dataSource.options.migrationsTableName ?? LEGACY_MIGRATIONS_TABLE, dataSource.migrations, false],
  ];
  const states: MigrationState[] = [];
  for (const [table, migrations, framework] of sets) {
    const applied = await appliedNames(dataSource, table);
    const sorted = [...migrations].sort((a, b) => nameOf(a).slice(-13).localeCompare(nameOf(b).slice(-13)));
    states.push(...sorted.map((m) => ({ name: nameOf(m), framework, applied: applied.has(nameOf(m)) })));
  }
  return states;
}
