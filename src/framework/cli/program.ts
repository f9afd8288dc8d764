import { Command } from 'commander';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { registerApiCommands } from 'src/framework/cli/api.command';
import { ui } from 'src/framework/cli/context';
import { registerGenerateCommands } from 'src/framework/cli/generate/generate.command';
import { registerMigrationCommands } from 'src/framework/cli/migrate.command';
import { registerOpsCommands } from 'src/framework/cli/ops.command';
import { registerUserCommands } from 'src/framework/cli/users.command';

/** What the project adds to the `nestor` command. */
export interface CliOptions {
  /** Extra commands, e.g. the seeder: `(program, rootModule) => registerSeedCommand(…)`. */
  extend?: ((program: Command, rootModule: RootModuleFactory) => void)[];
}

/**
 * The `nestor` command, like Django's manage.py. Exit codes: 0 done, 1 failed or (for checks) not clean,
 * 2 bad usage (commander's own).
 * Example: `await buildCli(AppModule.forRoot).parseAsync(process.argv)`.
 */
export function buildCli(rootModule: RootModuleFactory, options: CliOptions = {}): Command {
  const program = new Command('nestor')
    .description('Manage a Nestor project (like Django’s manage.py)')
    .option('--verbose', 'show stack traces and the framework’s log lines')
    .showHelpAfterError()
    .exitOverride((error) => process.exit(error.exitCode === 1 ? 2 : error.exitCode))
    .hook('preAction', (_program, command) => {
      ui.verbose = Boolean(command.optsWithGlobals<{ verbose?: boolean }>().verbose);
    });
  for (const register of [
    registerMigrationCommands,
    registerUserCommands,
    registerGenerateCommands,
    registerApiCommands,
    registerOpsCommands,
  ]) {
    register(program, rootModule);
  }
  options.extend?.forEach((register) => register(program, rootModule));
  return program;
}
