/**
 * `nestor/cli`: what an app's `src/cli.ts` and its seeders use. Kept out of `nestor` so the HTTP server and
 * the worker do not load the command line (commander, the generators) or the fake data library at start.
 * Example: `import { buildCli, registerSeedCommand } from 'nestor/cli';`
 */

// First, before the rest of the framework loads (as in `nestor`): the compile cache and decorator metadata.
import 'src/framework/compile-cache';
import 'reflect-metadata';

export { buildCli, type CliOptions } from 'src/framework/cli/program';
export { CliError, failureReport } from 'src/framework/cli/context';
export {
  registerSeedCommand,
  type SeedContext,
  type SeedCounts,
  type SeedProgress,
  type SeedResult,
  type Seeder,
} from 'src/framework/cli/seed.command';

// Factories: the data a seeder writes (tests get them from `nestor/testing`).
export {
  defineFactory,
  factory,
  type EntityClass,
  type FactoryAttributes,
  type FactoryContext,
  type FactoryDefinition,
} from 'src/framework/testing/factory';
