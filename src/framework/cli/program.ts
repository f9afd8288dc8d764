import { Command } from 'commander';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { registerMigrationCommands } from 'src/framework/cli/migrate.command';

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
    .showHelpAfterError()
    .exitOverride((error) => process.exit(error.exitCode === 1 ? 2 : error.exitCode));
  registerMigrationCommands(program, rootModule);
  options.extend?.forEach((register) => register(program, rootModule));
  return program;
}
