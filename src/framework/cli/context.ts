import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createColors } from 'picocolors';
import { DataSource } from 'typeorm';
import { RootModuleFactory, loadConfigOrExit } from 'src/framework/bootstrap';
import type { LoadConfigOptions, LoadedConfig } from 'src/framework/config/load-config';
import { createNestorApp } from 'src/framework/create-app';

/** Colours only when a person reads that stream: a TTY, and NO_COLOR unset (https://no-color.org). */
const colorsFor = (stream: NodeJS.WriteStream) =>
  createColors(Boolean(stream.isTTY) && !('NO_COLOR' in process.env));
const colors = colorsFor(process.stdout);
const errColors = colorsFor(process.stderr);

/** The CLI's output: plain lines on stdout, coloured on a terminal; problems on stderr. */
export const ui = {
  /** stdout's colours (no-ops off a terminal). */
  colors,
  /** `--verbose`: stack traces and the framework's own log lines. */
  verbose: false,
  out: (line = ''): void => void process.stdout.write(`${line}\n`),
  ok: (line: string): void => void process.stdout.write(`${colors.green(line)}\n`),
  note: (line: string): void => void process.stderr.write(`${line}\n`),
  warn: (line: string): void => void process.stderr.write(`${errColors.yellow(line)}\n`),
  error: (line: string): void => void process.stderr.write(`${errColors.red(line)}\n`),
};

/** Nest's `(message, …params, context)` as one line; a structured message by its `msg`. */
function logLine(message: unknown, params: unknown[]): string {
  const context = typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined;
  const text =
    message instanceof Error
      ? message.message
      : typeof message === 'object' && message !== null && 'msg' in message
        ? String(message.msg)
        : String(message);
  return `${context ? `[${context}] ` : ''}${text.split('\n', 1)[0]}`;
}

/**
 * The framework's log lines in a command, one plain line each on stderr: warnings always, the rest with
 * `--verbose`. A command's failure is not logged here: the CLI reports it once (with its stack if verbose).
 */
const cliLogger: LoggerService = {
  log: (message: unknown, ...params: unknown[]) => ui.verbose && ui.note(logLine(message, params)),
  warn: (message: unknown, ...params: unknown[]) => ui.warn(logLine(message, params)),
  error: (message: unknown, ...params: unknown[]) => {
    // Nest's ExceptionHandler logs the error the command then throws: printed once, by the CLI.
    if (ui.verbose && params.at(-1) !== 'ExceptionHandler') {
      ui.error(logLine(message, params));
    }
  },
  debug: (message: unknown, ...params: unknown[]) => ui.verbose && ui.note(logLine(message, params)),
  verbose: () => undefined,
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

const CODED = /^NST-[A-Z]+\d{3}\b/;

/**
 * How the CLI reports the error a command failed with: one line (the coded message; an unexpected error
 * gets `NST-X001`), or with `--verbose` the stack trace. Example: `process.stderr.write(failureReport(e))`.
 */
export function failureReport(error: unknown, verbose = ui.verbose): string {
  const message = error instanceof Error ? error.message : String(error);
  if (verbose) {
    return `${error instanceof Error ? (error.stack ?? message) : message}\n`;
  }
  const firstLine = message.split('\n', 1)[0];
  if (error instanceof CliError || CODED.test(message)) {
    return `${errColors.red(firstLine)}\n`;
  }
  return `${errColors.red(`NST-X001 Unexpected error: ${firstLine} (run it again with --verbose for the stack trace)`)}\n`;
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
  // abortOnError off: a failed boot is thrown to the command (one coded line) instead of logged and exited.
  const app = await NestFactory.createApplicationContext(rootModule(config), {
    logger: cliLogger,
    abortOnError: false,
  });
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
  const app = await createNestorApp(rootModule(config), config, { logger: cliLogger, abortOnError: false });
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
      embeddedSharing: 'borrow', // beside `npm start`, through its socket
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
