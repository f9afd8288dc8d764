import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, Entity, JoinTable, ManyToMany, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { Order, OrderItem } from 'src/app/orders/order.entity';
import { DailySalesReport } from 'src/app/reports/daily-sales-report.entity';
import { User } from 'src/framework/auth/user.entity';
import {
  AppliedMigrationNames,
  migrationStates,
  runAllMigrations,
} from 'src/framework/database/migration-runner';
import { pendingSchemaChanges } from 'src/framework/database/migrations';
import { FRAMEWORK_ENTITIES } from 'src/framework/framework-entities';
import { TestDatabase, createTestDatabase } from 'src/framework/testing/test-database';

const ROOT = join(__dirname, '..');
/** The eleven migrations of Nestor 0.1, framework and shop tables mixed, kept as they were committed. */
const LEGACY = [join(ROOT, 'test', 'fixtures', 'legacy-migrations', '*.ts')];
const APP = [join(ROOT, 'migrations', '*.ts')];
/** The framework's migrations newer than the squashed NestorInitial, by class name (`<Name><timestamp>`). */
const LATER_FRAMEWORK = readdirSync(join(ROOT, 'src', 'framework', 'database', 'migrations'))
  .map((file) => /^(\d{13})-(\w+)\.ts$/.exec(file))
  .filter((match) => match !== null && match[2] !== 'NestorInitial')
  .map((match) => `${match![2]}${match![1]}`)
  .sort((a, b) => a.slice(-13).localeCompare(b.slice(-13)));
const APP_ENTITIES = [Category, Product, Tag, Order, OrderItem, DailySalesReport];

/** A row in every table the legacy migrations create, through the columns they gave each table. */
const LEGACY_ROWS = `
  INSERT INTO "user" (email, "isStaff") VALUES ('ada@example.com', true), ('bob@example.com', false);
  INSERT INTO permission (codename, name) VALUES ('product.view', 'Can view product');
  INSERT INTO auth_group (name) VALUES ('editors');
  INSERT INTO group_permissions ("groupId", "permissionId") VALUES (1, 1);
  INSERT INTO user_groups ("userId", "groupId") VALUES (1, 1);
  INSERT INTO user_permissions ("userId", "permissionId") VALUES (2, 1);
  INSERT INTO api_key ("userId", name, prefix, "secretHash") VALUES (1, 'ci', 'nst_ab12', 'secret-hash');
  INSERT INTO one_time_token ("userId", purpose, "tokenHash", "expiresAt")
    VALUES (2, 'verify-email', 'token-hash-1', now() + interval '1 day');
  INSERT INTO refresh_token ("userId", family, "tokenHash", "expiresAt")
    VALUES (2, gen_random_uuid(), 'token-hash-2', now() + interval '1 day');
  INSERT INTO login_attempt (key, scope) VALUES ('bob@example.com', 'email');
  INSERT INTO admin_session ("idHash", "userId", "csrfToken", "expiresAt")
    VALUES ('session-hash', 1, 'csrf', now() + interval '1 hour');
  INSERT INTO audit_entry (via, resource, "recordId", operation) VALUES ('admin', 'product', '1', 'create');
  INSERT INTO idempotency_key (scope, key, fingerprint, token, "lockedUntil", "expiresAt")
    VALUES ('POST /api/orders', 'key-1', 'fingerprint', gen_random_uuid(), now(), now() + interval '1 day');
  INSERT INTO job_outbox (name, payload) VALUES ('orders.confirm', '{"orderId": 1}');
  INSERT INTO job_schedule (name, cron, "nextRunAt") VALUES ('reports.daily', '0 2 * * *', now());
  INSERT INTO job_effect (key, "jobId") VALUES ('mail:1', '1');
  INSERT INTO category (name, slug) VALUES ('Books', 'books');
  INSERT INTO tag (name) VALUES ('new');
  INSERT INTO product (name, sku, price, "categoryId", version) VALUES ('Dune', 'BK-1', 9.90, 1, 1);
  INSERT INTO product_tags ("productId", "tagId") VALUES (1, 1);
  INSERT INTO "order" ("customerId") VALUES (2);
  INSERT INTO order_item ("orderId", "productId", quantity, "unitPrice") VALUES (1, 1, 2, 9.90);
  INSERT INTO daily_sales_report (date, "ordersCount", revenue) VALUES ('2026-12-01', 1, 19.80);
`;

const open = (db: TestDatabase, migrations: string[], entities: unknown[] = []): Promise<DataSource> =>
  new DataSource({
    type: 'postgres',
    url: db.url,
    migrations,
    entities: entities as never[],
    logging: false,
  }).initialize();

async function tables(ds: DataSource): Promise<string[]> {
  const rows = await ds.query<{ name: string }[]>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

/** Every row of every table but the migration records, as JSON, in a stable order. */
async function contents(ds: DataSource): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const table of await tables(ds)) {
    if (table === 'migrations' || table === 'nestor_migrations') {
      continue;
    }
    const rows = await ds.query<{ row: string }[]>(`SELECT to_jsonb(t)::text AS row FROM "${table}" t`);
    result[table] = rows.map((r) => r.row).sort();
  }
  return result;
}

/**
 * The schema as PostgreSQL describes it: columns (not their order, which a later ALTER … ADD decides),
 * constraints, indexes and enum types.
 */
async function schema(ds: DataSource): Promise<Record<string, string[]>> {
  const lines = async (sql: string) => (await ds.query<{ line: string }[]>(sql)).map((r) => r.line).sort();
  return {
    columns: await lines(`SELECT concat_ws(' | ', table_name, column_name, data_type, udt_name, is_nullable,
        column_default, character_maximum_length, numeric_precision, numeric_scale) AS line
      FROM information_schema.columns WHERE table_schema = 'public'`),
    constraints:
      await lines(`SELECT concat_ws(' | ', conrelid::regclass::text, conname, pg_get_constraintdef(oid)) AS line
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace`),
    indexes: await lines(`SELECT concat_ws(' | ', tablename, indexname, indexdef) AS line
      FROM pg_indexes WHERE schemaname = 'public'`),
    enums:
      await lines(`SELECT t.typname || ': ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS line
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`),
  };
}

const names = async (ds: DataSource, table: string): Promise<string[]> =>
  (await ds.query<{ name: string }[]>(`SELECT name FROM "${table}" ORDER BY "timestamp", id`)).map(
    (r) => r.name,
  );

/** An app entity the committed migrations do not have, pointing at framework tables both ways. */
@Entity('gadget')
class Gadget {
  @PrimaryGeneratedColumn()
  id!: number;

  @ManyToOne(() => User, { nullable: true })
  owner!: User | null;

  @ManyToMany(() => User)
  @JoinTable()
  watchers!: User[];
}

describe('framework and app migrations', () => {
  const databases: TestDatabase[] = [];
  const sources: DataSource[] = [];
  const database = async (): Promise<TestDatabase> => {
    const db = await createTestDatabase('nestor_migrations');
    databases.push(db);
    return db;
  };
  const connect = async (...args: Parameters<typeof open>): Promise<DataSource> => {
    const ds = await open(...args);
    sources.push(ds);
    return ds;
  };

  afterAll(async () => {
    await Promise.all(sources.filter((ds) => ds.isInitialized).map((ds) => ds.destroy()));
    await Promise.all(databases.map((db) => db.drop()));
  });

  let fresh: DataSource;
  let result: AppliedMigrationNames;

  beforeAll(async () => {
    fresh = await connect(await database(), APP, [...FRAMEWORK_ENTITIES, ...APP_ENTITIES]);
    result = await runAllMigrations(fresh);
  });

  it('builds a fresh database: framework migrations first, each set in its own table', async () => {
    expect(result).toEqual({
      framework: [expect.stringMatching(/^NestorInitial\d{13}$/), ...LATER_FRAMEWORK],
      app: [expect.stringMatching(/^ShopInitial\d{13}$/)],
      recorded: [],
    });
    expect(await names(fresh, 'nestor_migrations')).toEqual(result.framework);
    expect(await names(fresh, 'migrations')).toEqual(result.app);
    expect((await migrationStates(fresh)).every((m) => m.applied)).toBe(true);
    expect(await runAllMigrations(fresh)).toEqual({ framework: [], app: [], recorded: [] });
    // makemigrations --check: neither side has anything left to write.
    expect((await pendingSchemaChanges(fresh, 'app', FRAMEWORK_ENTITIES)).up).toEqual([]);
    expect((await pendingSchemaChanges(fresh, 'framework', FRAMEWORK_ENTITIES)).up).toEqual([]);
  });

  it('upgrades a database built by the 0.1 migrations without losing a row, to the fresh schema', async () => {
    const db = await database();
    const legacy = await connect(db, LEGACY);
    expect(await legacy.runMigrations()).toHaveLength(11);
    await legacy.query(LEGACY_ROWS);
    const before = await contents(legacy);
    // The seed reaches every table, so "every row is still there" covers every table.
    expect(Object.entries(before).filter(([, rows]) => rows.length === 0)).toEqual([]);
    const legacyHistory = await names(legacy, 'migrations');
    await legacy.destroy();

    const upgraded = await connect(db, APP);
    const upgrade = await runAllMigrations(upgraded);

    // The squashed migrations are recorded; the framework's newer ones then run as on any database.
    expect(upgrade).toEqual({
      framework: LATER_FRAMEWORK,
      app: [],
      recorded: [
        expect.stringMatching(/^NestorInitial\d{13}$/),
        expect.stringMatching(/^ShopInitial\d{13}$/),
      ],
    });
    const after = await contents(upgraded);
    // Every legacy table keeps every row; tables the newer framework migrations add start empty.
    expect(Object.fromEntries(Object.keys(before).map((table) => [table, after[table]]))).toEqual(before);
    expect(Object.entries(after).filter(([table, rows]) => !(table in before) && rows.length > 0)).toEqual(
      [],
    );
    expect(await names(upgraded, 'nestor_migrations')).toEqual(result.framework);
    // The app's table keeps its history and gains the squashed migration that stands for it.
    expect(await names(upgraded, 'migrations')).toEqual([...legacyHistory, ...result.app]);
    expect((await migrationStates(upgraded)).every((m) => m.applied)).toBe(true);
    expect(await schema(upgraded)).toEqual(await schema(fresh));
    expect(await runAllMigrations(upgraded)).toEqual({ framework: [], app: [], recorded: [] });
  });

  it('refuses a database that applied only part of the migrations a squashed one replaces', async () => {
    const db = await database();
    const legacy = await connect(db, LEGACY);
    await legacy.runMigrations();
    await legacy.query(`DELETE FROM migrations WHERE name LIKE 'JobRequestId%'`);
    await legacy.destroy();

    const upgraded = await connect(db, APP);
    await expect(runAllMigrations(upgraded)).rejects.toThrow(
      /NST-M008 NestorInitial\d+ replaces 8 older migrations, but the database applied only some of them \(missing JobRequestId1796256154194\)/,
    );
    expect(await tables(upgraded)).not.toContain('nestor_migrations');
  });

  it("makemigrations in an app writes only the app's tables, never the framework's", async () => {
    const withGadget = await connect(await database(), APP, [...FRAMEWORK_ENTITIES, ...APP_ENTITIES, Gadget]);
    await runAllMigrations(withGadget);
    // The framework's user table drifts from its entity: that is the framework migrations' business.
    await withGadget.query(`ALTER TABLE "user" DROP COLUMN "totpEnabled"`);

    const app = (await pendingSchemaChanges(withGadget, 'app', FRAMEWORK_ENTITIES)).up.map((q) => q.query);
    const framework = (await pendingSchemaChanges(withGadget, 'framework', FRAMEWORK_ENTITIES)).up.map(
      (q) => q.query,
    );

    const touched = (queries: string[]) =>
      [
        ...new Set(
          queries.map((q) => /^(?:CREATE TABLE|ALTER TABLE|CREATE INDEX "[^"]+" ON) "([^"]+)"/.exec(q)?.[1]),
        ),
      ].sort();
    expect(touched(app)).toEqual(['gadget', 'gadget_watchers_user']);
    expect(app.join('\n')).toContain('REFERENCES "user"("id")');
    expect(framework).toEqual([`ALTER TABLE "user" ADD "totpEnabled" boolean NOT NULL DEFAULT false`]);
  });
});
