import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource, EntityMetadata } from 'typeorm';
import type { Query } from 'typeorm/driver/Query';

/** The SQL that would bring a database's schema to the entities' schema. */
export interface SchemaDiff {
  up: Query[];
  down: Query[];
}

/** Which entities a diff covers: an app's own (the default), the framework's, or all of them. */
export type SchemaScope = 'app' | 'framework' | 'all';

/**
 * The metadata of the framework's tables: its entities' and the join tables of their many-to-many relations.
 * An app's many-to-many to a framework entity owns its join table, so that one stays the app's.
 */
function frameworkMetadatas(dataSource: DataSource, entities: readonly unknown[]): Set<EntityMetadata> {
  const owned = dataSource.entityMetadatas.filter((m) => entities.includes(m.target));
  const junctions = owned.flatMap((m) =>
    m.manyToManyRelations.flatMap((r) =>
      r.isOwning && r.junctionEntityMetadata ? [r.junctionEntityMetadata] : [],
    ),
  );
  return new Set([...owned, ...junctions]);
}

/**
 * What the entities need that the database lacks. Run on a scratch database that only the committed
 * migrations built, this is Django's `makemigrations --check`: independent of any local database's state.
 * `frameworkEntities` splits the tables: an app's diff leaves the framework's out (the framework's own
 * migrations keep them in step), and the framework's leaves the app's out.
 * Example: `await pendingSchemaChanges(dataSource, 'app', FRAMEWORK_ENTITIES)`.
 */
export async function pendingSchemaChanges(
  dataSource: DataSource,
  scope: SchemaScope = 'all',
  frameworkEntities: readonly unknown[] = [],
): Promise<SchemaDiff> {
  const framework = frameworkMetadatas(dataSource, frameworkEntities);
  const skipped = dataSource.entityMetadatas.filter(
    (m) => m.synchronize && scope !== 'all' && framework.has(m) === (scope === 'app'),
  );
  // TypeORM's schema builder diffs only entities marked `synchronize`; unmark the other side for this diff.
  skipped.forEach((m) => (m.synchronize = false));
  try {
    const log = await dataSource.driver.createSchemaBuilder().log();
    return { up: log.upQueries, down: log.downQueries };
  } finally {
    skipped.forEach((m) => (m.synchronize = true));
  }
}

const DROP_COLUMN = /^ALTER TABLE "([^"]+)" DROP COLUMN "([^"]+)"/;
const ADD_COLUMN = /^ALTER TABLE "([^"]+)" ADD "([^"]+)"/;
const DROP_TABLE = /^DROP TABLE "([^"]+)"/;
const CREATE_TABLE = /^CREATE TABLE "([^"]+)"/;
const RENAME_COLUMN = /^ALTER TABLE "([^"]+)" RENAME COLUMN "([^"]+)" TO "([^"]+)"/;
const ALTER_TYPE = /^ALTER TABLE "([^"]+)" ALTER COLUMN "([^"]+)" TYPE/;

/**
 * What a diff would destroy, as coded refusals: a dropped column or table while a column or table is added
 * in the same place (a likely rename, whose data would be lost: NST-M005), any other drop or type change
 * (NST-M006), and a rename TypeORM guessed from one changed column (NST-M007: right only if it was one).
 * Like Django's rename questions, but refusing until confirmed instead of asking.
 * Example: `destructiveChanges(diff)` → `['NST-M005 product.sku is dropped while product.code is added…']`.
 */
export function destructiveChanges(diff: SchemaDiff): string[] {
  const queries = diff.up.map((q) => q.query.trim());
  const matches = (pattern: RegExp): RegExpExecArray[] =>
    queries.map((q) => pattern.exec(q)).filter((m): m is RegExpExecArray => m !== null);
  const added = matches(ADD_COLUMN);
  const created = matches(CREATE_TABLE).map(([, table]) => table);
  const found: string[] = [];
  for (const [, table, column] of matches(DROP_COLUMN)) {
    const readded = added.some(([, t, c]) => t === table && c === column);
    const others = added.filter(([, t, c]) => t === table && c !== column).map(([, , c]) => `${table}.${c}`);
    if (readded) {
      found.push(
        `NST-M006 ${table}.${column} is dropped and re-created (a type change TypeORM cannot convert): its data would be lost. Write the conversion by hand (ALTER COLUMN … TYPE … USING).`,
      );
    } else if (others.length > 0) {
      found.push(
        `NST-M005 ${table}.${column} is dropped while ${others.join(', ')} is added: if this is a rename, write \`ALTER TABLE "${table}" RENAME COLUMN "${column}" TO …\` by hand, or the data would be lost.`,
      );
    } else {
      found.push(`NST-M006 ${table}.${column} is dropped: its data would be lost.`);
    }
  }
  for (const [, table] of matches(DROP_TABLE)) {
    found.push(
      created.length > 0
        ? `NST-M005 Table ${table} is dropped while ${created.join(', ')} is created: if this is a rename, write \`ALTER TABLE "${table}" RENAME TO …\` by hand, or the data would be lost.`
        : `NST-M006 Table ${table} is dropped: its rows would be lost.`,
    );
  }
  for (const [, table, from, to] of matches(RENAME_COLUMN)) {
    found.push(
      `NST-M007 ${table}.${from} is taken for a rename to ${table}.${to} (TypeORM's guess; its values move to ${to}): confirm only if that is what you meant.`,
    );
  }
  for (const [, table, column] of matches(ALTER_TYPE)) {
    found.push(`NST-M006 ${table}.${column} changes type: values that do not convert would fail or be cut.`);
  }
  return found;
}

function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

function sqlLiteral(query: Query): string {
  const sql = query.query.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${');
  const params = query.parameters?.length ? `, ${JSON.stringify(query.parameters)}` : '';
  return `    await queryRunner.query(\`${sql}\`${params});`;
}

/** The source of a TypeORM migration class for a diff; `down` undoes `up` in reverse order. */
export function renderMigration(className: string, diff: SchemaDiff): string {
  return `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  public async up(queryRunner: QueryRunner): Promise<void> {
${diff.up.map(sqlLiteral).join('\n')}
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
${[...diff.down].reverse().map(sqlLiteral).join('\n')}
  }
}
`;
}

/**
 * Writes `<directory>/<timestamp>-<Name>.ts` for a diff and returns its path.
 * Example: `await writeMigration(await pendingSchemaChanges(scratch), 'AddProductSku', './migrations')`.
 */
export async function writeMigration(
  diff: SchemaDiff,
  name: string,
  directory: string,
  now = Date.now(),
): Promise<string> {
  const base = pascalCase(name);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(base)) {
    throw new Error(`NST-M001 Migration name "${name}" must start with a letter, e.g. AddProductSku`);
  }
  const className = `${base}${now}`;
  let source = renderMigration(className, diff);
  try {
    // Prettier is a dev tool: format when it is installed, so generated files pass lint unchanged.
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(join(directory, `${className}.ts`))) ?? {};
    source = await prettier.format(source, { ...options, parser: 'typescript' });
  } catch {
    // Without prettier the unformatted source is still valid TypeScript.
  }
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${now}-${base}.ts`);
  if (existsSync(file)) {
    throw new Error(`NST-M002 ${file} already exists`);
  }
  writeFileSync(file, source);
  return file;
}
