import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { DataSource, ObjectLiteral } from 'typeorm';
import { ApiKeyService } from 'src/framework/auth/api-key.service';
import { AccountService } from 'src/framework/auth/account.service';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { LoadedConfig, loadConfig } from 'src/framework/config/load-config';
import { createNestorApp } from 'src/framework/create-app';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestClock, useClock } from 'src/framework/testing/clock';
import { EntityClass, Factory, FactoryOptions, factory } from 'src/framework/testing/factory';
import { TestDatabase, createTestDatabase } from 'src/framework/testing/test-database';
import { TestMailbox, createTestMailbox } from 'src/framework/testing/test-mail';
import { deleteRedisKeys } from 'src/framework/testing/test-redis';
import { TestUser, TestUserOptions, createTestUser } from 'src/framework/testing/test-users';

export interface TestAppOptions {
  /** `postgres` (default): a fresh database on the test server; `embedded`: PGlite in a temp dir. */
  database?: 'postgres' | 'embedded';
  /**
   * Extra environment variables, e.g. `{ BODY_LIMIT: '1kb' }`. With REDIS_URL and no JOBS_PREFIX, the app's
   * Redis keys go under a prefix of its own, deleted by `close()`; name one to share it between apps.
   */
  env?: Record<string, string>;
  /** Reuse this data directory (to test restarts of the embedded default). */
  dataDir?: string;
  /** `superuser`: `inject` sends a superuser's token unless the request sets `authorization` itself. */
  as?: 'anonymous' | 'superuser';
}

/**
 * Sends requests in-process as one caller; request headers still win (`authorization: undefined` drops it).
 * Example: `const res = await t.actingAs(customer).inject('/api/orders')`.
 */
export interface TestClient {
  inject: (options: InjectOptions | string) => Promise<LightMyRequestResponse>;
}

/** A booted application for e2e tests, answered in-process through Fastify's `inject` (no port). */
export interface TestApp extends TestClient {
  app: NestFastifyApplication;
  config: LoadedConfig;
  dataDir: string;
  /** The superuser behind `as: 'superuser'` (undefined otherwise). */
  superuser?: TestUser;
  /**
   * A factory on the app's database (import your definitions, e.g. `src/app/catalog/catalog.factories`).
   * Example: `const [a, b] = await t.factory(Product).createMany(2, { status: ProductStatus.Active })`.
   */
  factory<T extends ObjectLiteral>(entity: EntityClass<T>, options?: FactoryOptions): Factory<T>;
  /** {@link createTestUser} on this app. Example: `const staff = await t.createUser({ isStaff: true })`. */
  createUser(options?: TestUserOptions): Promise<TestUser>;
  /**
   * Stores an API key for `user` with these permissions (the user must hold them too) and returns it.
   * Example: `const key = await t.createApiKey(owner, ['products.add']); t.withApiKey(key).inject(…)`.
   */
  createApiKey(user: Pick<TestUser, 'id'>, permissions: string[], name?: string): Promise<string>;
  /** Requests with this user's bearer token. Example: `await t.actingAs(staff).inject('/api/orders')`. */
  actingAs(user: Pick<TestUser, 'accessToken'>): TestClient;
  /** Requests with this API key (`Authorization: Bearer nst_…`). Example: `t.withApiKey(key).inject(url)`. */
  withApiKey(key: string): TestClient;
  /** Requests without credentials, even on an `as: 'superuser'` app. Example: `t.anonymous().inject(url)`. */
  anonymous(): TestClient;
  /**
   * Waits until every queued job (and the mail requests queue after their response) has run; needs
   * workers (the default, not `WORKERS=off`). Example: `await t.drainJobs(); expect(await report()).…`.
   */
  drainJobs(timeoutMs?: number): Promise<void>;
  /** The development transport's outbox, after draining jobs. Example: `await t.mail.expectSent({ to })`. */
  mail: TestMailbox;
  /** Fakes `Date` only; restored by `close()`. Example: `t.clock.freeze(); t.clock.advance(60_000)`. */
  clock: TestClock;
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
  const { env, dataDir, cleanUp } = await ownResources(options);
  let booted: NestFastifyApplication | undefined;
  let config: LoadedConfig;
  let superuser: TestUser | undefined;
  try {
    config = loadConfig({ envFile: false, env: { ...env, ...options.env } });
    booted = await bootTestApp(rootModule, config);
    superuser =
      options.as === 'superuser'
        ? await createTestUser(booted, { isSuperuser: true, isStaff: true })
        : undefined;
  } catch (error) {
    // A refused configuration or boot leaves nothing behind: no database, keys or directory.
    await booted?.close();
    await cleanUp(false);
    throw error;
  }
  const app = booted;
  const client = clientOf(app);
  const drainJobs = jobDrainer(app, config);
  const clock = useClock();
  return {
    app,
    config,
    dataDir,
    superuser,
    inject: client({ ...superuser?.headers }).inject,
    factory: (entity, factoryOptions) => factory(entity, app.get(DataSource), factoryOptions),
    createUser: (userOptions) => createTestUser(app, userOptions),
    createApiKey: (user, permissions, name) => createTestApiKey(app, user, permissions, name),
    actingAs: (user) => client({ authorization: `Bearer ${user.accessToken}` }),
    withApiKey: (key) => client({ authorization: `Bearer ${key}` }),
    anonymous: () => client({}),
    drainJobs,
    mail: createTestMailbox(app, () => drainJobs()),
    clock,
    close: async ({ keepData = false } = {}) => {
      clock.restore();
      await app.close();
      await cleanUp(keepData);
    },
  };
}

/**
 * What an app under test gets of its own besides the app: a database (unless embedded), a data directory
 * (unless given) and, on Redis, a key prefix unless the test names one (to share it between apps), so tests
 * never meet each other's rows, files, jobs, caches or budgets. `cleanUp` removes them.
 */
async function ownResources(options: TestAppOptions): Promise<{
  env: Record<string, string>;
  dataDir: string;
  cleanUp: (keepData: boolean) => Promise<void>;
}> {
  const database: TestDatabase | undefined =
    options.database === 'embedded' ? undefined : await createTestDatabase();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'nestor-test-'));
  const redisUrl = options.env?.REDIS_URL;
  const prefix =
    redisUrl && !options.env?.JOBS_PREFIX
      ? `nestor-test-${process.pid}-${randomBytes(4).toString('hex')}`
      : undefined;
  return {
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      DATA_DIR: dataDir,
      ...(database ? { DATABASE_URL: database.url } : {}),
      ...(prefix ? { JOBS_PREFIX: prefix } : {}),
    },
    dataDir,
    cleanUp: async (keepData) => {
      await database?.drop();
      if (prefix) {
        // A test may point an app at a Redis that is not there (to see the errors): it holds no keys.
        await deleteRedisKeys(redisUrl!, prefix).catch(() => undefined);
      }
      if (!keepData && !options.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** The app, initialised and ready for `inject`; a failed boot closes what it opened. */
async function bootTestApp(
  rootModule: RootModuleFactory,
  config: LoadedConfig,
): Promise<NestFastifyApplication> {
  let app: NestFastifyApplication | undefined;
  try {
    app = await createNestorApp(rootModule(config), config);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  } catch (error) {
    await app?.close();
    throw error;
  }
}

/** Clients whose `credentials` headers come first; the request's own headers win. */
function clientOf(
  app: NestFastifyApplication,
): (credentials: Record<string, string | undefined>) => TestClient {
  return (credentials) => ({
    inject: (request) => {
      const init: InjectOptions = typeof request === 'string' ? { url: request } : request;
      // An explicit `authorization: undefined` sends the request anonymously.
      const headers = Object.fromEntries(
        Object.entries({ ...credentials, ...init.headers }).filter(([, value]) => value !== undefined),
      );
      return app
        .getHttpAdapter()
        .getInstance()
        .inject({ ...init, headers });
    },
  });
}

async function createTestApiKey(
  app: NestFastifyApplication,
  user: { id: number },
  permissions: string[],
  name = 'test key',
): Promise<string> {
  const { key, prefix, secretHash } = ApiKeyService.mint();
  await app
    .get(DataSource)
    .query(
      'INSERT INTO api_key (name, prefix, "secretHash", permissions, "userId") VALUES ($1, $2, $3, $4, $5)',
      [name, prefix, secretHash, JSON.stringify(permissions), user.id],
    );
  return key;
}

/** `t.drainJobs`: waits for queued jobs (and mail queued after a response) to run. */
function jobDrainer(
  app: NestFastifyApplication,
  config: LoadedConfig,
): (timeoutMs?: number) => Promise<void> {
  return async (timeoutMs = 15_000) => {
    await app.get(AccountService, { strict: false }).settled(); // mail queued after a response
    if (config.workers === 'off') {
      const [{ n }] = await app
        .get(DataSource)
        .query<{ n: number }[]>('SELECT count(*)::int AS n FROM job_outbox WHERE "finishedAt" IS NULL');
      if (n > 0) {
        throw new Error(
          `NST-T001 t.drainJobs(): ${n} job(s) wait, but this app runs no workers (WORKERS=off); ` +
            "boot it with env { WORKERS: 'inline' }",
        );
      }
      return;
    }
    // A real timer: JobsService.drain() times out with Date, which t.clock may have frozen.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`NST-T003 t.drainJobs(): jobs still unfinished after ${timeoutMs} ms`)),
        timeoutMs + 1_000,
      );
    });
    try {
      await Promise.race([app.get(JobsService, { strict: false }).drain(timeoutMs), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}
