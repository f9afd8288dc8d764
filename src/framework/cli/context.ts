import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createColors } from 'picocolors';
import { DataSource } from 'typeorm';
import { RootModuleFactory, loadConfigOrExit } from 'src/framework/bootstrap';
import type { LoadConfigOptions, LoadedConfig } from 'src/framework/config/load-config';
import { createNestorApp } from 'src/framework/http/create-app';

/** Colours only when a person reads the output: a TTY, and NO_COLOR unset (https://no-color.org). */
const colors = createColors(Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env));

/** The CLI's output: plain lines on stdout, coloured on a terminal; problems on stderr. */
export const ui = {
  colors,
  out: (line = ''): void => void process.stdout.write(`${line}\n`),
  ok: (line: string): void => void process.stdout.write(`${colors.green(line)}\n`),
  note: (line: string): void => void process.stderr.write(`${line}\n`),
  warn: (line: string): void => void process.stderr.write(`${colors.yellow(line)}\n`),
  error: (line: string): void => void process.stderr.write(`${colors.red(line)}\n`),
};

/**
 * A failure the CLI reports as one coded line and exit 1, without a stack trace.
 * Example: `throw new CliError('NST-U001 No user has the email a@b.c')`.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface AppContextOptions {
  /** A fresh in-memory database built by the migrations instead of the configured one. */
  scratch?: boolean;
  /** Settings for this command on top of the environment's. */
  overrides?: LoadConfigOptions['overrides'];
}

/**
 * Boots the shared composition without HTTP, runs `work`, then closes. The configured database is migrated
 * on open as `npm start` would (development yes, production no); `scratch` gives a fresh in-memory database.
 * Example: `await withAppContext(rootModule, (app) => app.get(DataSource).query('SELECT 1'))`.
 */
export async function withAppContext<T>(
  rootModule: RootModuleFactory,
  work: (app: INestApplicationContext) => T | Promise<T>,
  options: AppContextOptions = {},
): Promise<T> {
  const config = commandConfig(options);
  const app = await NestFactory.createApplicationContext(rootModule(config), { logger: ['error', 'warn'] });
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

/**
 * {@link withAppContext} with the HTTP layer initialised but not listening: routes, guards and the OpenAPI
 * document exist. Example: `await withHttpApp(rootModule, async (app) => buildOpenApiDocument(app))`.
 */
export async function withHttpApp<T>(
  rootModule: RootModuleFactory,
  work: (app: NestFastifyApplication) => T | Promise<T>,
  options: AppContextOptions = {},
): Promise<T> {
  const config = commandConfig(options);
  const app = await createNestorApp(rootModule(config), config);
  try {
    await app.init();
    return await work(app);
  } finally {
    await app.close();
  }
}

/** The settings of a CLI command: the environment's, with the command's own rules on top. */
export function commandConfig({ scratch = false, overrides = {} }: AppContextOptions = {}): LoadedConfig {
  return loadConfigOrExit({
    overrides: {
      ...(scratch
        ? {
            databaseUrl: undefined,
            inMemoryDatabase: true,
            migrateOnBoot: true,
            jobsBackend: 'outbox' as const,
          }
        : {}),
      ...(process.env.LOG_LEVEL ? {} : { logLevel: 'warn' as const }),
      workers: 'off', // a CLI command never takes jobs
      ...overrides,
    },
  });
}

/** {@link withAppContext} for work that needs only the database. */
export function withDataSource<T>(
  rootModule: RootModuleFactory,
  work: (dataSource: DataSource) => T | Promise<T>,
  options?: AppContextOptions,
): Promise<T> {
  return withAppContext(rootModule, (app) => work(app.get(DataSource)), options);
}
