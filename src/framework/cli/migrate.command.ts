import { join } from 'node:path';
import type { Command } from 'commander';
import type { DataSource } from 'typeorm';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { AppContextOptions, CliError, ui, withDataSource } from 'src/framework/cli/context';

/** Migration commands see the database as it is: nothing is applied on open. */
const AS_IS: AppContextOptions = { overrides: { migrateOnBoot: false } };
import { destructiveChanges, pendingSchemaChanges, writeMigration } from 'src/framework/database/migrations';

/** `migrate`, `makemigrations`, `showmigrations`: Django's names. */
// eslint-disable-next-line max-lines-per-function -- 67 lines, to be split (issue 19 item 5)
export function registerMigrationCommands(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('migrate')
    .description('Apply pending migrations to the configured database, listing what ran')
    .option('--revert', 'revert the most recently applied migration instead')
    .action(async ({ revert }: { revert?: boolean }) => {
      if (revert) {
        await revertLast(rootModule);
        return;
      }
      const ran = await withDataSource(rootModule, (ds) => ds.runMigrations({ transaction: 'each' }), AS_IS);
      if (ran.length === 0) {
        ui.out('No pending migrations.');
      }
      ran.forEach((m) => ui.ok(`Applied ${m.name}`));
    });

  program
    .command('showmigrations')
    .description('List migrations: [X] applied, [ ] pending')
    .action(async () => {
      await withDataSource(
        rootModule,
        async (ds) => {
          for (const { name, applied } of await migrationStatus(ds)) {
            ui.out(applied ? `[X] ${name}` : ui.colors.yellow(`[ ] ${name}`));
          }
        },
        AS_IS,
      );
    });

  program
    .command('makemigrations')
    .description('Write a migration for the difference between the entities and the committed migrations')
    .argument('[name]', 'what the migration does, e.g. AddProductSku (required unless --check)')
    .option('--check', 'write nothing; exit 1 when a migration is missing (for CI)')
    .option(
      '--allow-destructive',
      'write it even if it drops data (a dropped column or table, a likely rename)',
    )
    .option('--dir <directory>', 'where migrations live', join(process.cwd(), 'migrations'))
    .action(
      async (
        name: string | undefined,
        options: { dir: string; check?: boolean; allowDestructive?: boolean },
      ) => {
        const diff = await withDataSource(rootModule, pendingSchemaChanges, { scratch: true });
        if (options.check) {
          reportCheck(diff.up.map((q) => q.query));
          return;
        }
        if (!name) {
          throw new CliError('NST-M004 Name the migration, e.g. `nestor makemigrations AddProductSku`');
        }
        if (diff.up.length === 0) {
          ui.out('No changes: the entities match the migrations.');
          return;
        }
        const destructive = destructiveChanges(diff);
        if (destructive.length > 0 && !options.allowDestructive) {
          destructive.forEach((line) => ui.error(line));
          throw new CliError('Nothing written. Pass --allow-destructive to write this migration anyway.');
        }
        destructive.forEach((line) => ui.warn(line));
        ui.ok(`Wrote ${await writeMigration(diff, name, options.dir)}`);
      },
    );
}

/** Every committed migration, oldest first, and whether the database has applied it. */
export async function migrationStatus(ds: DataSource): Promise<{ name: string; applied: boolean }[]> {
  const applied = new Set(
    (await ds.query<{ name: string }[]>('SELECT name FROM migrations').catch(() => [])).map((r) => r.name),
  );
  return ds.migrations.map((migration) => {
    const name = migration.name ?? migration.constructor.name;
    return { name, applied: applied.has(name) };
  });
}

function reportCheck(missing: string[]): void {
  if (missing.length === 0) {
    ui.ok('OK: the entities match the migrations.');
    return;
  }
  ui.out(
    'NST-M003 The entities differ from the migrations; run `nestor makemigrations <Name>`. Missing SQL:',
  );
  missing.forEach((q) => ui.out(`  ${q};`));
  process.exitCode = 1;
}

async function revertLast(rootModule: RootModuleFactory): Promise<void> {
  await withDataSource(
    rootModule,
    async (ds) => {
      const executed = await ds
        .query<{ name: string }[]>('SELECT name FROM migrations ORDER BY "timestamp" DESC LIMIT 1')
        .catch(() => []);
      if (executed.length === 0) {
        ui.out('No applied migrations to revert.');
        return;
      }
      await ds.undoLastMigration({ transaction: 'each' });
      ui.ok(`Reverted ${executed[0].name}`);
    },
    AS_IS,
  );
}
