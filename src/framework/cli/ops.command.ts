import type { REPLEval } from 'node:repl';
import type { INestApplicationContext } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Command } from 'commander';
import { DataSource } from 'typeorm';
import { TwoFactorService } from 'src/framework/auth/two-factor.service';
import { RootModuleFactory, runWorker } from 'src/framework/bootstrap';
import { CliError, commandConfig, ui, withAppContext, withDataSource } from 'src/framework/cli/context';
import { migrationStates } from 'src/framework/database/migration-runner';
import { deployFindings } from 'src/framework/config/deploy-checks';
import { NestorConfig } from 'src/framework/config/nestor-config';

/** Like `manage.py shell`: the app's providers and repositories as globals, top-level await on. */
async function runShell(app: INestApplicationContext): Promise<void> {
  const { start } = await import('node:repl');
  const scope: Record<string, unknown> = {
    get: (token: unknown): unknown => app.get(token as string, { strict: false }),
    dataSource: app.get(DataSource),
    config: app.get(NestorConfig),
  };
  for (const wrapper of app.get(DiscoveryService, { strict: false }).getProviders()) {
    const { metatype, instance } = wrapper as { metatype?: { name?: string } | null; instance?: unknown };
    if (instance && typeof metatype === 'function' && metatype.name && !(metatype.name in scope)) {
      scope[metatype.name] = instance;
    }
  }
  const dataSource = app.get(DataSource);
  const entities = dataSource.entityMetadatas.filter((m) => typeof m.target === 'function');
  for (const metadata of entities) {
    scope[metadata.name] = dataSource.getRepository(metadata.target);
  }
  ui.note(`Repositories: ${entities.map((m) => m.name).join(', ')}`);
  ui.note(
    'Also: dataSource, config, get(Token), and every provider by class name (AuthService, JobsService…).',
  );
  const server = start({ prompt: ui.colors.green('nestor> '), ignoreUndefined: true, useGlobal: false });
  // Filled before the first input line is read (that happens on a later tick).
  Object.assign(server.context, scope);
  // The REPL exits at the end of piped input without waiting for a pending top-level await, and the app
  // (its database pool) closes under it: count the evaluations in flight and let them finish first.
  let pending = 0;
  let settled: (() => void) | undefined;
  const evaluate = server.eval;
  // REPLServer declares eval read-only; the instance property is what the REPL calls for every input.
  (server as { eval: REPLEval }).eval = (code, context, file, callback) => {
    pending += 1;
    evaluate.call(server, code, context, file, (error, result) => {
      pending -= 1;
      callback(error, result);
      if (pending === 0) {
        setImmediate(() => settled?.());
      }
    });
  };
  await new Promise<void>((resolve) => server.once('exit', () => resolve()));
  if (pending > 0) {
    await new Promise<void>((resolve) => (settled = resolve));
  }
}

/** `check`, `shell` and `worker`: running the project rather than changing it. */
export function registerOpsCommands(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('check')
    .description(
      'Boot the app to run its declaration checks; with --deploy also audit production settings (exit 1 on findings)',
    )
    .option('--deploy', 'audit the settings against the deployment checklist, on the configured database')
    .action(async ({ deploy }: { deploy?: boolean }) => {
      if (!deploy) {
        // Declarations are checked at boot; a scratch database makes this independent of any server.
        await withDataSource(rootModule, () => undefined, { scratch: true });
        ui.ok('System check identified no issues.');
        return;
      }
      const config = commandConfig();
      const pending = await withDataSource(
        rootModule,
        async (ds) => (await migrationStates(ds)).filter((m) => !m.applied).map((m) => m.name),
        { overrides: { migrateOnBoot: false } },
      );
      const findings = deployFindings(config, { pendingMigrations: pending });
      findings.forEach(({ code, message }) => ui.warn(`${code} ${message}`));
      if (findings.length > 0) {
        throw new CliError(`System check identified ${findings.length} issue(s) for deployment.`);
      }
      ui.ok('System check identified no issues: ready to deploy.');
    });

  program
    .command('rotate-secrets')
    .description(
      'Re-encrypt every stored secret (TOTP secrets) under the current SECRET_KEY: those sealed under a key in ' +
        'SECRET_KEY_FALLBACKS, and any still stored in clear. Run it after a rotation, then drop the fallbacks',
    )
    .action(() =>
      withAppContext(rootModule, async (app) => {
        const { resealed, total } = await app.get(TwoFactorService).resealSecrets();
        ui.ok(
          `TOTP secrets: ${resealed} re-encrypted under the current SECRET_KEY, ${total - resealed} already were.`,
        );
        if (app.get(NestorConfig).secretKeyFallbacks.length > 0) {
          ui.note(
            'Keep SECRET_KEY_FALLBACKS until queued mail sent before the rotation has gone out and recovery codes issued before it are replaced; then remove it.',
          );
        }
      }),
    );

  program
    .command('shell')
    .description(
      'An interactive REPL on the app: every provider by class name (AuthService…), every entity repository ' +
        'by entity name (await Product.count()), dataSource, config; Nest’s get(), debug(), methods()',
    )
    .action(() => withAppContext(rootModule, runShell));

  program
    .command('worker')
    .description('Run the job workers until SIGTERM (same as `npm run worker`)')
    .action(() => runWorker(rootModule));
}
