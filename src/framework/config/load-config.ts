import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import * as dotenv from 'dotenv';
import { passwordProblem } from 'src/framework/fields/password-policy';
import { type OAuthProviderConfig, parseOAuthProviders } from 'src/framework/config/oauth-providers';
import {
  IdempotencyStoreKind,
  JobBackendName,
  LogLevel,
  NodeEnv,
  NestorConfig,
} from 'src/framework/config/nestor-config';
import { parseRate, parseSize, parseTrustProxy, parseTtl } from 'src/framework/config/config-values';
import { EnvironmentVariables } from 'src/framework/config/environment-variables';
import { graphqlConfig } from 'src/framework/config/graphql-config';
import { readTlsCredentials } from 'src/framework/config/tls';

/** A configuration that cannot start the process; the message lists every offending variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`NST-C001 Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Where `loadConfig` reads from. Example: `loadConfig({ envFile: false, env: { PORT: '3001' } })`. */
export interface LoadConfigOptions {
  /** Variables to read; defaults to `process.env` (after loading `.env`). */
  env?: Record<string, string | undefined>;
  /** A dotenv file read beneath `env` (real variables win); `false` skips it. Defaults to `./.env`. */
  envFile?: string | false;
  /** Settings that win over the environment, e.g. `{ migrateOnBoot: false }` for CLI commands. */
  overrides?: Partial<NestorConfig>;
}

/**
 * A loaded configuration plus the warnings worth logging once the logger is up, and which variables were
 * set explicitly (a deployment check tells "decided" from "left at the default").
 */
export type LoadedConfig = NestorConfig & {
  readonly bootWarnings: readonly string[];
  readonly explicitlySet: ReadonlySet<string>;
};

/**
 * In development a missing SECRET_KEY is generated once and kept in DATA_DIR, so sessions and tokens
 * survive restarts; production must set it.
 */
function resolveSecretKey(dataDir: string, warnings: string[]): string {
  const file = join(dataDir, 'secret-key');
  if (existsSync(file)) {
    warnings.push(
      `SECRET_KEY is not set: using the development key kept in ${file}. Set SECRET_KEY in production.`,
    );
    return readFileSync(file, 'utf8').trim();
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(48).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  warnings.push(
    `SECRET_KEY is not set: generated a development key and kept it in ${file}. Set SECRET_KEY in production.`,
  );
  return key;
}

/**
 * The host names a request may name when ALLOWED_HOSTS is not set: PUBLIC_URL's and loopback's (Django's
 * development default), so a deployment answers its public name and local tools only.
 * Example: `defaultAllowedHosts('https://shop.example')` → `['shop.example', '.localhost', '127.0.0.1', '[::1]']`.
 */
export function defaultAllowedHosts(publicUrl: string): string[] {
  return [...new Set([new URL(publicUrl).hostname, '.localhost', '127.0.0.1', '[::1]'])];
}

/** TLS_CERT_FILE / TLS_KEY_FILE come as a pair of readable, matching files; HTTPS_REDIRECT needs a way to tell. */
function tlsProblems(vars: EnvironmentVariables): string[] {
  if ((vars.TLS_CERT_FILE === undefined) !== (vars.TLS_KEY_FILE === undefined)) {
    return ['TLS_CERT_FILE and TLS_KEY_FILE: set both to serve HTTPS, or neither'];
  }
  const problems: string[] = [];
  if (vars.TLS_CERT_FILE && vars.TLS_KEY_FILE) {
    try {
      readTlsCredentials({ certFile: vars.TLS_CERT_FILE, keyFile: vars.TLS_KEY_FILE });
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (vars.HTTP_PORT && !(vars.TLS_CERT_FILE && vars.HTTPS_REDIRECT === 'true')) {
    problems.push(
      'HTTP_PORT: only used with TLS_CERT_FILE and HTTPS_REDIRECT=true (a plain listener that redirects to HTTPS)',
    );
  }
  if (vars.HTTPS_REDIRECT === 'true' && !vars.TLS_CERT_FILE && !vars.TRUST_PROXY) {
    problems.push(
      'HTTPS_REDIRECT=true: without TLS_CERT_FILE every request arrives in plain HTTP from the proxy; set TRUST_PROXY so X-Forwarded-Proto tells which were secure',
    );
  }
  if (vars.HTTP_PORT && vars.HTTP_PORT === (vars.PORT ?? '3000')) {
    problems.push(`HTTP_PORT=${vars.HTTP_PORT}: must differ from PORT, where HTTPS is served`);
  }
  return problems;
}

/** The variables to read: the given ones over the `.env` file's, or process.env once dotenv filled it in. */
function readEnvironment(options: LoadConfigOptions): Record<string, string | undefined> {
  const envFile = options.envFile ?? '.env';
  if (!options.env) {
    // dotenv sets only what process.env lacks, so real variables win here too.
    if (envFile && existsSync(envFile)) {
      dotenv.config({ path: envFile, quiet: true });
    }
    return process.env;
  }
  if (envFile && existsSync(envFile)) {
    return { ...dotenv.parse(readFileSync(envFile)), ...options.env };
  }
  return options.env;
}

/** An empty value in a .env file means "not set", as in Django's and Laravel's env helpers. */
function setVariables(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

/**
 * Every problem at once, so one NST-C001 names them all: each variable's format, then the ones that only
 * fail together, then the OAuth providers' variables. Returns the providers when nothing is wrong.
 */
function validateVariables(
  vars: EnvironmentVariables,
  raw: Record<string, string | undefined>,
  nodeEnv: NodeEnv,
): OAuthProviderConfig[] {
  const problems = [
    ...formatProblems(vars),
    ...secretAndAdminProblems(vars, nodeEnv),
    ...backendProblems(vars),
    ...publicationProblems(vars),
    ...tlsProblems(vars),
  ];
  const oauthProviders = parseOAuthProviders(raw, problems);
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return oauthProviders;
}

/** One line per variable that breaks its own rule (the decorators of EnvironmentVariables). */
function formatProblems(vars: EnvironmentVariables): string[] {
  return validateSync(vars).map((error) => {
    const message = Object.values(error.constraints ?? {}).join('; ');
    return `${error.property}=${JSON.stringify(error.value)}: ${message}`;
  });
}

/** Production needs its own key; the first superuser needs both halves and a password the policy accepts. */
function secretAndAdminProblems(vars: EnvironmentVariables, nodeEnv: NodeEnv): string[] {
  const problems: string[] = [];
  if (nodeEnv === 'production' && !vars.SECRET_KEY) {
    problems.push('SECRET_KEY: required when NODE_ENV=production (at least 32 characters)');
  }
  const adminPasswordProblem = vars.ADMIN_PASSWORD && passwordProblem(vars.ADMIN_PASSWORD);
  if (adminPasswordProblem) {
    problems.push(`ADMIN_PASSWORD: ${adminPasswordProblem}`);
  }
  if ((vars.ADMIN_EMAIL === undefined) !== (vars.ADMIN_PASSWORD === undefined)) {
    problems.push('ADMIN_EMAIL and ADMIN_PASSWORD: set both to create the first superuser, or neither');
  }
  return problems;
}

/** A backend chosen by name needs the server it runs on. */
function backendProblems(vars: EnvironmentVariables): string[] {
  const problems: string[] = [];
  if (vars.JOBS_BACKEND === 'redis' && !vars.REDIS_URL) {
    problems.push('JOBS_BACKEND=redis: set REDIS_URL too');
  }
  if (vars.JOBS_BACKEND === 'postgres' && !vars.DATABASE_URL) {
    problems.push('JOBS_BACKEND=postgres: needs DATABASE_URL (bullmq cannot use the embedded database)');
  }
  if (vars.IDEMPOTENCY_STORE === 'redis' && !vars.REDIS_URL) {
    problems.push('IDEMPOTENCY_STORE=redis: set REDIS_URL too');
  }
  return problems;
}

/** What the process publishes about itself: security.txt's pair and dates, the public URL. */
function publicationProblems(vars: EnvironmentVariables): string[] {
  const problems: string[] = [];
  if ((vars.SECURITY_CONTACT === undefined) !== (vars.SECURITY_EXPIRES === undefined)) {
    problems.push(
      'SECURITY_CONTACT and SECURITY_EXPIRES: security.txt needs both (RFC 9116), or neither to serve none',
    );
  }
  if (vars.SECURITY_EXPIRES && Number.isNaN(Date.parse(vars.SECURITY_EXPIRES))) {
    problems.push(`SECURITY_EXPIRES=${JSON.stringify(vars.SECURITY_EXPIRES)}: not a date`);
  }
  if (vars.PUBLIC_URL && !URL.canParse(vars.PUBLIC_URL)) {
    problems.push(`PUBLIC_URL=${JSON.stringify(vars.PUBLIC_URL)}: not a URL`);
  }
  return problems;
}

/** PUBLIC_URL without its trailing slash, else the address the process listens on. */
function publicUrlOf(vars: EnvironmentVariables): string {
  const host = vars.HOST ?? '127.0.0.1';
  // An IPv6 bind address (`::`) needs brackets in a URL.
  return (
    vars.PUBLIC_URL ?? `http://${host.includes(':') ? `[${host}]` : host}:${vars.PORT ?? 3000}`
  ).replace(/\/$/, '');
}

/** Where the process listens, what it connects to, and the keys it signs with. */
function serverSettings(
  vars: EnvironmentVariables,
  warnings: string[],
): Pick<
  NestorConfig,
  | 'port'
  | 'host'
  | 'databaseUrl'
  | 'dataDir'
  | 'redisUrl'
  | 'secretKey'
  | 'secretKeyFallbacks'
  | 'tls'
  | 'httpsRedirect'
  | 'httpPort'
  | 'workerHealthPort'
> {
  const dataDir = resolve(vars.DATA_DIR ?? './data');
  return {
    port: Number(vars.PORT ?? 3000),
    host: vars.HOST ?? '127.0.0.1',
    databaseUrl: vars.DATABASE_URL,
    dataDir,
    redisUrl: vars.REDIS_URL,
    secretKey: vars.SECRET_KEY ?? resolveSecretKey(dataDir, warnings),
    secretKeyFallbacks: vars.SECRET_KEY_FALLBACKS?.split(',').map((k) => k.trim()) ?? [],
    tls:
      vars.TLS_CERT_FILE && vars.TLS_KEY_FILE
        ? { certFile: resolve(vars.TLS_CERT_FILE), keyFile: resolve(vars.TLS_KEY_FILE) }
        : undefined,
    httpsRedirect: vars.HTTPS_REDIRECT === 'true',
    httpPort: vars.HTTP_PORT ? Number(vars.HTTP_PORT) : undefined,
    workerHealthPort: vars.WORKER_HEALTH_PORT ? Number(vars.WORKER_HEALTH_PORT) : undefined,
  };
}

/** How requests are taken in and logged, and where mail goes. */
function requestSettings(
  vars: EnvironmentVariables,
  nodeEnv: NodeEnv,
): Pick<
  NestorConfig,
  'nodeEnv' | 'logLevel' | 'corsOrigins' | 'bodyLimit' | 'trustProxy' | 'smtpUrl' | 'mailFrom'
> {
  return {
    nodeEnv,
    logLevel: (vars.LOG_LEVEL ?? (nodeEnv === 'test' ? 'warn' : 'info')) as LogLevel,
    corsOrigins: vars.CORS_ORIGINS ? vars.CORS_ORIGINS.split(',').map((o) => o.trim()) : [],
    bodyLimit: vars.BODY_LIMIT ? parseSize(vars.BODY_LIMIT) : 1024 * 1024,
    trustProxy: parseTrustProxy(vars.TRUST_PROXY),
    smtpUrl: vars.SMTP_URL,
    mailFrom: vars.MAIL_FROM ?? 'Nestor <no-reply@nestor.local>',
  };
}

/** The first superuser, sign-up, and how long tokens and admin sessions last. */
function accountSettings(
  vars: EnvironmentVariables,
): Pick<
  NestorConfig,
  'admin' | 'registrationOpen' | 'accessTokenTtl' | 'refreshTokenTtl' | 'adminSession' | 'adminRequire2fa'
> {
  return {
    admin: vars.ADMIN_EMAIL ? { email: vars.ADMIN_EMAIL, password: vars.ADMIN_PASSWORD! } : undefined,
    registrationOpen: vars.AUTH_REGISTRATION !== 'false',
    accessTokenTtl: Number(vars.ACCESS_TOKEN_TTL ?? 900),
    refreshTokenTtl: Number(vars.REFRESH_TOKEN_TTL ?? 30 * 24 * 3600),
    // ASVS 4.0.3 V3.3.2, level 2: 30 minutes of inactivity or 12 hours, whichever comes first.
    adminSession: {
      idleTimeout: Number(vars.ADMIN_SESSION_IDLE_TIMEOUT ?? 1800),
      maxAge: Number(vars.ADMIN_SESSION_MAX_AGE ?? 12 * 3600),
    },
    adminRequire2fa: vars.ADMIN_REQUIRE_2FA === 'true',
  };
}

/** What the process shows the world: security.txt, its public name, metrics, caching and request budgets. */
function exposureSettings(
  vars: EnvironmentVariables,
  nodeEnv: NodeEnv,
  publicUrl: string,
): Pick<
  NestorConfig,
  'securityTxt' | 'publicUrl' | 'allowedHosts' | 'metrics' | 'resourceCache' | 'rateLimits'
> {
  return {
    securityTxt: vars.SECURITY_CONTACT
      ? {
          contact: vars.SECURITY_CONTACT.split(',').map((c) => c.trim()),
          expires: new Date(vars.SECURITY_EXPIRES!),
          policy: vars.SECURITY_POLICY,
          languages: vars.SECURITY_LANGUAGES?.split(',').map((l) => l.trim()),
        }
      : undefined,
    publicUrl,
    allowedHosts: vars.ALLOWED_HOSTS
      ? vars.ALLOWED_HOSTS.split(',').map((h) => h.trim())
      : defaultAllowedHosts(publicUrl),
    metrics: (vars.METRICS ?? 'public') as 'public' | 'protected',
    resourceCache: vars.RESOURCE_CACHE !== 'off',
    // Tests run unthrottled unless they set a budget (as Laravel's tests skip ThrottleRequests).
    rateLimits: {
      anonymous: parseRate(vars.RATE_LIMIT_ANON ?? (nodeEnv === 'test' ? 'off' : '300/minute')),
      user: parseRate(vars.RATE_LIMIT_USER ?? (nodeEnv === 'test' ? 'off' : '1200/minute')),
    },
  };
}

/** Who runs jobs and on what, how shutdown drains, and how long idempotency keys are kept. */
function jobSettings(
  vars: EnvironmentVariables,
  nodeEnv: NodeEnv,
): Pick<
  NestorConfig,
  | 'workers'
  | 'jobsBackend'
  | 'jobsPrefix'
  | 'jobsShutdownTimeout'
  | 'jobsLockDuration'
  | 'jobsMaxStalls'
  | 'shutdownDrainMs'
  | 'idempotency'
> {
  return {
    workers: (vars.WORKERS ?? (vars.REDIS_URL ? 'off' : 'inline')) as 'inline' | 'off',
    // docs/architecture.md §1: Redis when configured, else bullmq's PostgreSQL backend on a server, else in-process.
    jobsBackend: (vars.JOBS_BACKEND ??
      (vars.REDIS_URL ? 'redis' : vars.DATABASE_URL ? 'postgres' : 'outbox')) as JobBackendName,
    jobsPrefix: vars.JOBS_PREFIX ?? 'nestor',
    jobsShutdownTimeout: Number(vars.JOBS_SHUTDOWN_TIMEOUT ?? 30_000),
    jobsLockDuration: Number(vars.JOBS_LOCK_DURATION ?? 30_000),
    jobsMaxStalls: Number(vars.JOBS_MAX_STALLS ?? 2),
    // Behind a load balancer: longer than its health check takes to mark the process down (deploy/haproxy).
    shutdownDrainMs: Number(vars.SHUTDOWN_DRAIN_MS ?? (nodeEnv === 'production' ? 5_000 : 0)),
    idempotency: {
      ttlSeconds: parseTtl(vars.IDEMPOTENCY_TTL ?? '24h'),
      store: (vars.IDEMPOTENCY_STORE ?? (vars.REDIS_URL ? 'redis' : 'database')) as IdempotencyStoreKind,
    },
  };
}

/** How the process boots (migrations, database, docs, sign-in providers, API version). */
function bootSettings(
  vars: EnvironmentVariables,
  nodeEnv: NodeEnv,
  oauthProviders: OAuthProviderConfig[],
): Pick<
  NestorConfig,
  'migrateOnBoot' | 'inMemoryDatabase' | 'embeddedSharing' | 'docs' | 'oauthProviders' | 'apiDefaultVersion'
> {
  return {
    migrateOnBoot: nodeEnv !== 'production',
    inMemoryDatabase: false,
    embeddedSharing: 'serve',
    docs: (vars.DOCS ?? 'public') as 'public' | 'off',
    oauthProviders,
    apiDefaultVersion: vars.API_DEFAULT_VERSION ?? '1',
  };
}

/**
 * Reads and validates Nestor's settings from the environment and an optional `.env`.
 * Throws {@link ConfigError} naming every bad variable. Example: `const config = loadConfig();`
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const raw = setVariables(readEnvironment(options));
  const vars = plainToInstance(EnvironmentVariables, raw, { excludeExtraneousValues: false });
  const nodeEnv = (vars.NODE_ENV ?? 'development') as NodeEnv;
  const oauthProviders = validateVariables(vars, raw, nodeEnv);
  const warnings: string[] = [];
  const publicUrl = publicUrlOf(vars);
  const config: LoadedConfig = {
    ...serverSettings(vars, warnings),
    ...requestSettings(vars, nodeEnv),
    ...accountSettings(vars),
    ...exposureSettings(vars, nodeEnv, publicUrl),
    ...jobSettings(vars, nodeEnv),
    ...bootSettings(vars, nodeEnv, oauthProviders),
    graphql: graphqlConfig(vars, nodeEnv),
    bootWarnings: warnings,
    explicitlySet: new Set(Object.keys(raw)),
    ...options.overrides,
  };
  return Object.freeze(config);
}
