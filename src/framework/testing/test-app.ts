import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { LoadedConfig, loadConfig } from 'src/framework/config/load-config';
import { createNestorApp } from 'src/framework/http/create-app';
import { TestDatabase, createTestDatabase } from 'src/framework/testing/test-database';
import { TestUser, createTestUser } from 'src/framework/testing/test-users';

export interface TestAppOptions {
  /** `postgres` (default): a fresh database on the test server; `embedded`: PGlite in a temp dir. */
  database?: 'postgres' | 'embedded';
  /** Extra environment variables, e.g. `{ BODY_LIMIT: '1kb' }`. */
  env?: Record<string, string>;
  /** Reuse this data directory (to test restarts of the embedded default). */
  dataDir?: string;
  /** `superuser`: `inject` sends a superuser's token unless the request sets `authorization` itself. */
  as?: 'anonymous' | 'superuser';
}

/** A booted application for e2e tests, answered in-process through Fastify's `inject` (no port). */
export interface TestApp {
  app: NestFastifyApplication;
  config: LoadedConfig;
  dataDir: string;
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse>;
  /** The superuser behind `as: 'superuser'` (undefined otherwise). */
  superuser?: TestUser;
  /** Closes the app and removes what it created (database, temp dir). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * Boots the app like `npm start` does, on a database of its own.
 * Example: `const t = await createTestApp(AppModule.forRoot); const res = await t.inject('/health/live');`
 */
export async function createTestApp(
  rootModule: RootModuleFactory,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const database: TestDatabase | undefined =
    options.database === 'embedded' ? undefined : await createTestDatabase();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'nestor-test-'));
  const config = loadConfig({
    envFile: false,
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      DATA_DIR: dataDir,
      ...(database ? { DATABASE_URL: database.url } : {}),
      ...options.env,
    },
  });
  let app: NestFastifyApplication | undefined;
  try {
    app = await createNestorApp(rootModule(config), config);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    await app?.close();
    await database?.drop();
    throw error;
  }
  const booted = app;
  const superuser =
    options.as === 'superuser'
      ? await createTestUser(booted, { isSuperuser: true, isStaff: true })
      : undefined;
  return {
    app: booted,
    config,
    dataDir,
    superuser,
    inject: (request) => {
      const init: InjectOptions = typeof request === 'string' ? { url: request } : request;
      // An explicit `authorization: undefined` sends the request anonymously.
      const headers = Object.fromEntries(
        Object.entries({ ...superuser?.headers, ...init.headers }).filter(([, value]) => value !== undefined),
      );
      return booted
        .getHttpAdapter()
        .getInstance()
        .inject({ ...init, headers });
    },
    close: async ({ keepData = false } = {}) => {
      await booted.close();
      await database?.drop();
      if (!keepData && !options.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
