import { join } from 'node:path';
import type { Command } from 'commander';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { CliError, ui, withDataSource } from 'src/framework/cli/context';
import { pendingSchemaChanges, writeMigration } from 'src/framework/database/migrations';

/** `migrate`, `makemigrations`, `showmigrations`: Django's names; the older `migration:*` names stay as aliases. */
export function registerMigrationCommands(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('migrate')
    .alias('migration:run')
    .description('Apply pending migrations to the configured database, listing what ran')
    .option('--revert', 'revert the most recently applied migration instead')
    .action(async ({ revert }: { revert?: boolean }) => {
      if (revert) {
        await revertLast(rootModule);
        return;
      }
      const ran = await withDataSource(rootModule, (ds) => ds.runMigrations({ transaction: 'each' }));
      if (ran.length === 0) {
        ui.out('No pending migrations.');
      }
      ran.forEach((m) => ui.ok(`Applied ${m.name}`));
    });

  program
    .command('migration:revert', { hidden: true })
    .description('Same as `migrate --revert`')
    .action(() => revertLast(rootModule));

  program
    .command('showmigrations')
    .alias('migration:show')
    .description('List migrations: [X] applied, [ ] pending')
    .action(async () => {
      await withDataSource(rootModule, async (ds) => {
        const applied = new Set(
          (await ds.query<{ name: string }[]>('SELECT name FROM migrations').catch(() => [])).map(
            (r) => r.name,
          ),
        );
        for (const migration of ds.migrations) {
          const name = migration.name ?? migration.constructor.name;
          ui.out(applied.has(name) ? `[X] ${name}` : ui.colors.yellow(`[ ] ${name}`));
        }
      });
    });

  program
    .command('makemigrations')
    .alias('migration:generate')
    .description('Write a migration for the difference between the entities and the committed migrations')
    .argument('[name]', 'what the migration does, e.g. AddProductSku (required unless --check)')
    .option('--check', 'write nothing; exit 1 when a migration is missing (for CI)')
    .option('--dir <directory>', 'where migrations live', join(process.cwd(), 'migrations'))
    .action(async (name: string | undefined, options: { dir: string; check?: boolean }) => {
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
      ui.ok(`Wrote ${await writeMigration(diff, name, options.dir)}`);
    });

  program
    .command('migration:check', { hidden: true })
    .description('Same as `makemigrations --check`')
    .action(async () => {
      const diff = await withDataSource(rootModule, pendingSchemaChanges, { scratch: true });
      reportCheck(diff.up.map((q) => q.query));
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
  await withDataSource(rootModule, async (ds) => {
    const executed = await ds
      .query<{ name: string }[]>('SELECT name FROM migrations ORDER BY "timestamp" DESC LIMIT 1')
      .catch(() => []);
    if (executed.length === 0) {
      ui.out('No applied migrations to revert.');
      return;
    }
    await ds.undoLastMigration({ transaction: 'each' });
    ui.ok(`Reverted ${executed[0].name}`);
  });
}
