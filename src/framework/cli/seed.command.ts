import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { CliError, commandConfig, ui, withAppContext } from 'src/framework/cli/context';
import { migrationStates } from 'src/framework/database/migration-runner';

/**
 * How a seeder reports progress; the command draws it as a bar on a terminal, and ignores it otherwise.
 * Example: `progress.start(count); … progress.advance(batch.length);`
 */
export interface SeedProgress {
  /** Sets how many units the whole run has (rows, usually). */
  start(total: number): void;
  /** `n` more units done. */
  advance(n?: number): void;
}

/** What a seeder gets from `nestor seed`. Example: `run: async ({ dataSource, count, seed }) => …`. */
export interface SeedContext {
  /** The configured database, migrated. */
  dataSource: DataSource;
  /**
   * The booted app (no HTTP, no workers): seed through the app's own code where it has some, e.g.
   * `await app.get(ReportJobs).dailySales({ date })` rather than numbers made up beside it.
   */
  app: INestApplicationContext;
  /** `--count`: how many of the main rows to make (default 100). */
  count: number;
  /** `--seed`: the same seed must make the same rows, and a second run must add nothing. */
  seed: number;
  progress: SeedProgress;
}

/** Rows per kind (a plural noun), in the order to report them. Example: `{ products: 1000, categories: 20 }`. */
export type SeedCounts = Record<string, number>;

/**
 * What a seeder did: rows it inserted, and rows of this seed that were there already.
 * Example: `{ created: { products: 0 }, existing: { products: 1000 } }` for a second run.
 */
export interface SeedResult {
  created: SeedCounts;
  existing?: SeedCounts;
  /** Lines printed after the summary: details, and how to sign in as the seeded users. */
  notes?: string[];
}

/**
 * A project's fake data for `nestor seed`: deterministic per seed, idempotent, fast (batch inserts).
 * Example: `export const shopSeeder: Seeder = { run: async ({ dataSource, count }) => ({ created: … }) }`.
 */
export interface Seeder {
  /** What `--count` counts, for the help: `'products'` (default `'rows'`). */
  counts?: string;
  run(context: SeedContext): Promise<SeedResult>;
}

const MAX_COUNT = 1_000_000;

function wholeNumber(option: string, min: number, max: number, example: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${option} takes a whole number from ${min} to ${max}, e.g. ${example}.`,
      );
    }
    return n;
  };
}

/** Refuses a database whose migrations are not all applied: seeding never changes the schema. */
async function assertMigrated(dataSource: DataSource): Promise<void> {
  const pending = (await migrationStates(dataSource)).filter((m) => !m.applied).map((m) => m.name);
  if (pending.length > 0) {
    throw new CliError(
      `NST-S001 The database is not migrated (${pending.length} pending, first ${pending[0]}): run \`nestor migrate\`, then seed again`,
    );
  }
}

/** "categories" → "category", "staff users" → "staff user": the kinds are plural nouns. */
function singular(kind: string): string {
  return kind.replace(/ies$/, 'y').replace(/s$/, '');
}

function summary({ created, existing = {} }: SeedResult): string {
  const list = (counts: SeedCounts) =>
    Object.entries(counts)
      .map(([kind, n]) => `${n} ${n === 1 ? singular(kind) : kind}`)
      .join(', ');
  const already = Object.values(existing).some((n) => n > 0) ? `; already there: ${list(existing)}` : '';
  return `Seeded ${list(created)}${already}`;
}

/** A bar on a terminal (logs and pipes get the summary line alone), fed by what the seeder reports. */
function seedProgress(): { progress: SeedProgress; finish: () => void; stop: () => void } {
  const bar = process.stderr.isTTY
    ? new SingleBar({
        format: `Seeding |{bar}| {percentage}% {value}/{total} rows`,
        hideCursor: true,
        clearOnComplete: true,
      })
    : undefined;
  let total = 0;
  const progress: SeedProgress = {
    start: (n) => {
      total = n;
      bar?.start(n, 0);
    },
    advance: (n = 1) => bar?.increment(n),
  };
  return {
    progress,
    finish: () => {
      bar?.update(total);
      bar?.stop();
    },
    stop: () => bar?.stop(),
  };
}

interface SeedOptions {
  count: number;
  seed: number;
  force?: boolean;
}

async function runSeed(
  seeder: Seeder,
  rootModule: RootModuleFactory,
  { count, seed, force }: SeedOptions,
): Promise<void> {
  if (commandConfig().nodeEnv === 'production' && !force) {
    // Demo data may come with known logins: not into a production database by accident (Laravel asks too).
    throw new CliError(
      'NST-S002 NODE_ENV=production: `nestor seed` writes demo data; pass --force if this database is for that',
    );
  }
  const started = performance.now();
  const { progress, finish, stop } = seedProgress();
  try {
    const result = await withAppContext(
      rootModule,
      async (app) => {
        const dataSource = app.get(DataSource);
        await assertMigrated(dataSource);
        return seeder.run({ dataSource, app, count, seed, progress });
      },
      // Seeding never migrates on its own, even where a development server would.
      { overrides: { migrateOnBoot: false } },
    );
    finish();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    ui.ok(`${summary(result)} (seed ${seed}) in ${seconds} s`);
    result.notes?.forEach((line) => ui.out(line));
  } catch (error) {
    stop();
    throw error;
  }
}

/**
 * `nestor seed [--count N] [--seed S]`: runs the project's seeder on the configured (migrated) database,
 * with a progress bar on a terminal and a summary line. Register it through `buildCli`:
 * `buildCli(root, { extend: [registerSeedCommand(shopSeeder)] })`.
 */
export function registerSeedCommand(
  seeder: Seeder,
): (program: Command, rootModule: RootModuleFactory) => void {
  return (program, rootModule) => {
    program
      .command('seed')
      .description('Fill the configured database with deterministic fake data (a seed is added only once)')
      .option(
        '--count <n>',
        `how many ${seeder.counts ?? 'rows'} to make`,
        wholeNumber('--count', 1, MAX_COUNT, '--count 500'),
        100,
      )
      .option(
        '--seed <s>',
        'the seed: the same one makes the same rows, and adds nothing a second time',
        wholeNumber('--seed', 0, 2 ** 31 - 1, '--seed 42'),
        1,
      )
      .option('--force', 'seed even with NODE_ENV=production')
      .action((options: SeedOptions) => runSeed(seeder, rootModule, options));
  };
}
