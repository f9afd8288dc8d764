import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { Query } from 'typeorm/driver/Query';

/** The SQL that would bring a database's schema to the entities' schema. */
export interface SchemaDiff {
  up: Query[];
  down: Query[];
}

/**
 * What the entities need that the database lacks. Run on a scratch database that only the committed
 * migrations built, this is Django's `makemigrations --check`: independent of any local database's state.
 */
export async function pendingSchemaChanges(dataSource: DataSource): Promise<SchemaDiff> {
  const log = await dataSource.driver.createSchemaBuilder().log();
  return { up: log.upQueries, down: log.downQueries };
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
