import { join } from 'node:path';
import { Command } from 'commander';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { RootModuleFactory, loadConfigOrExit } from 'src/framework/bootstrap';
import { pendingSchemaChanges, writeMigration } from 'src/framework/database/migrations';

/**
 * Boots the shared composition without HTTP, runs `work`, then closes. The configured database is used
 * without applying migrations; `scratch` instead gives a fresh in-memory database built by the migrations.
 */
async function withDataSource<T>(
  rootModule: RootModuleFactory,
  work: (dataSource: DataSource) => Promise<T>,
  scratch = false,
): Promise<T> {
  const config = loadConfigOrExit({
    overrides: {
      ...(scratch
        ? {
            databaseUrl: undefined,
            inMemoryDatabase: true,
            migrateOnBoot: true,
            jobsBackend: 'outbox' as const,
          }
        : { migrateOnBoot: false }),
      ...(process.env.LOG_LEVEL ? {} : { logLevel: 'warn' as const }),
      workers: 'off', // a CLI command never takes jobs
    },
  });
  const app = await NestFactory.createApplicationContext(rootModule(config), { logger: ['error', 'warn'] });
  try {
    return await work(app.get(DataSource));
  } finally {
    await app.close();
  }
}

/**
 * The `nestor` command, like Django's manage.py. Exit codes: 0 done, 1 failed or (for checks) not clean.
 * Example: `await buildCli(AppModule.forRoot).parseAsync(process.argv)`.
 */
export function buildCli(rootModule: RootModuleFactory): Command {
  const program = new Command('nestor').description('Manage a Nestor project').showHelpAfterError();
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);

  program
    .command('migration:run')
    .description('Apply pending migrations to the configured database')
    .action(async () => {
      const ran = await withDataSource(rootModule, (ds) => ds.runMigrations({ transaction: 'each' }));
      out(ran.length ? ran.map((m) => `Applied ${m.name}`).join('\n') : 'No pending migrations.');
    });

  program
    .command('migration:revert')
    .description('Revert the most recently applied migration')
    .action(async () => {
      await withDataSource(rootModule, async (ds) => {
        const executed = await ds
          .query<{ name: string }[]>('SELECT name FROM migrations ORDER BY "timestamp" DESC LIMIT 1')
          .catch(() => []);
        if (executed.length === 0) {
          out('No applied migrations to revert.');
          return;
        }
        await ds.undoLastMigration({ transaction: 'each' });
        out(`Reverted ${executed[0].name}`);
      });
    });

  program
    .command('migration:show')
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
          out(`${applied.has(name) ? '[X]' : '[ ]'} ${name}`);
        }
      });
    });

  program
    .command('migration:generate')
    .description('Write a migration for the difference between the entities and the committed migrations')
    .argument('<name>', 'what the migration does, e.g. AddProductSku')
    .option('--dir <directory>', 'where migrations live', join(process.cwd(), 'migrations'))
    .action(async (name: string, options: { dir: string }) => {
      const diff = await withDataSource(rootModule, pendingSchemaChanges, true);
      if (diff.up.length === 0) {
        out('No changes: the entities match the migrations.');
        return;
      }
      out(`Wrote ${await writeMigration(diff, name, options.dir)}`);
    });

  program
    .command('migration:check')
    .description('Exit 1 when the entities and the committed migrations disagree (for CI)')
    .action(async () => {
      const diff = await withDataSource(rootModule, pendingSchemaChanges, true);
      if (diff.up.length === 0) {
        out('OK: the entities match the migrations.');
        return;
      }
      out(
        'NST-M003 The entities differ from the migrations; run `npm run migration:generate -- <Name>`. Missing SQL:',
      );
      diff.up.forEach((q) => out(`  ${q.query};`));
      process.exitCode = 1;
    });

  return program;
}
