import { join } from 'node:path';
import type { Command } from 'commander';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { AppContextOptions, CliError, ui, withDataSource } from 'src/framework/cli/context';
import { migrationStates, runAllMigrations } from 'src/framework/database/migration-runner';
import { destructiveChanges, pendingSchemaChanges, writeMigration } from 'src/framework/database/migrations';
import { FRAMEWORK_ENTITIES } from 'src/framework/framework-entities';

/** Migration commands see the database as it is: nothing is applied on open. */
const AS_IS: AppContextOptions = { overrides: { migrateOnBoot: false } };

/** Where `makemigrations --framework` writes: the framework's sources, from the root of its repository. */
const FRAMEWORK_MIGRATIONS_SOURCE = join('src', 'framework', 'database', 'migrations');

/** `migrate`, `makemigrations`, `showmigrations`: Django's names. */
export function registerMigrationCommands(program: Command, rootModule: RootModuleFactory): void {
  registerMigrate(program, rootModule);
  registerShowMigrations(program, rootModule);
  registerMakeMigrations(program, rootModule);
}

function registerMigrate(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('migrate')
    .description("Apply pending migrations to the configured database (the framework's, then the app's)")
    .option('--revert', 'revert the most recently applied migration instead')
    .action(async ({ revert }: { revert?: boolean }) => {
      if (revert) {
        await revertLast(rootModule);
        return;
      }
      const { framework, app, recorded } = await withDataSource(
        rootModule,
        (ds) => runAllMigrations(ds),
        AS_IS,
      );
      if (framework.length + app.length + recorded.length === 0) {
        ui.out('No pending migrations.');
      }
      recorded.forEach((name) =>
        ui.ok(`Recorded ${name} as applied (it replaces migrations this database applied)`),
      );
      framework.forEach((name) => ui.ok(`Applied nestor.${name}`));
      app.forEach((name) => ui.ok(`Applied ${name}`));
    });
}

function registerShowMigrations(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('showmigrations')
    .description("List migrations, the framework's (nestor.*) first: [X] applied, [ ] pending")
    .action(async () => {
      await withDataSource(
        rootModule,
        async (ds) => {
          for (const { name, applied, framework } of await migrationStates(ds)) {
            const label = framework ? `nestor.${name}` : name;
            ui.out(applied ? `[X] ${label}` : ui.colors.yellow(`[ ] ${label}`));
          }
        },
        AS_IS,
      );
    });
}

function registerMakeMigrations(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('makemigrations')
    .description(
      "Write a migration for the difference between the app's entities and the committed migrations (framework tables come from the framework's migrations)",
    )
    .argument('[name]', 'what the migration does, e.g. AddProductSku (required unless --check)')
    .option('--check', 'write nothing; exit 1 when a migration is missing (for CI)')
    .option(
      '--allow-destructive',
      'write it even if it drops data (a dropped column or table, a likely rename)',
    )
    .option('--dir <directory>', 'where migrations live', join(process.cwd(), 'migrations'))
    .option(
      '--framework',
      "diff the framework's own tables instead, into its migrations (framework development)",
    )
    .action(
      async (
        name: string | undefined,
        options: { dir: string; check?: boolean; allowDestructive?: boolean; framework?: boolean },
      ) => {
        const scope = options.framework ? 'framework' : 'app';
        const diff = await withDataSource(
          rootModule,
          (ds) => pendingSchemaChanges(ds, scope, FRAMEWORK_ENTITIES),
          { scratch: true },
        );
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
        const directory = options.framework ? join(process.cwd(), FRAMEWORK_MIGRATIONS_SOURCE) : options.dir;
        ui.ok(`Wrote ${await writeMigration(diff, name, directory)}`);
      },
    );
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
