import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsOptional, IsPort, Matches, MinLength, validateSync } from 'class-validator';
import * as dotenv from 'dotenv';
import { passwordProblem } from 'src/framework/fields/password-policy';
import { parseOAuthProviders } from 'src/framework/config/oauth-providers';
import {
  IDEMPOTENCY_STORES,
  IdempotencyStoreKind,
  JOB_BACKENDS,
  JobBackendName,
  LOG_LEVELS,
  LogLevel,
  NODE_ENVS,
  NodeEnv,
  NestorConfig,
} from 'src/framework/config/nestor-config';
import {
  RATE,
  RATE_MESSAGE,
  TTL,
  parseRate,
  parseSize,
  parseTrustProxy,
  parseTtl,
} from 'src/framework/config/config-values';
import { GraphqlVariables, graphqlConfig } from 'src/framework/config/graphql-config';
import { readTlsCredentials } from 'src/framework/config/tls';

/** The environment variables Nestor reads; each message says what the variable expects. */
class EnvironmentVariables extends GraphqlVariables {
  @IsOptional()
  @IsPort({ message: 'expected a TCP port number (1-65535)' })
  PORT?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9.:[\]-]+$/, {
    message: 'expected a host name or IP address, e.g. 127.0.0.1 or 0.0.0.0',
  })
  HOST?: string;

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, {
    message: 'expected a PostgreSQL URL, e.g. postgres://user:password@127.0.0.1:5432/nestor',
  })
  DATABASE_URL?: string;

  @IsOptional()
  DATA_DIR?: string;

  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'expected a Redis URL, e.g. redis://127.0.0.1:6379/0' })
  REDIS_URL?: string;

  @IsOptional()
  @MinLength(32, { message: 'expected at least 32 characters (e.g. `openssl rand -base64 48`)' })
  SECRET_KEY?: string;

  /** Earlier SECRET_KEYs, newest first: still accepted to open what they sealed, never used to seal. */
  @IsOptional()
  @Matches(/^[^,\s]{32,}(\s*,\s*[^,\s]{32,})*$/, {
    message: 'expected comma-separated earlier keys of at least 32 characters each, newest first',
  })
  SECRET_KEY_FALLBACKS?: string;

  @IsOptional()
  TLS_CERT_FILE?: string;

  @IsOptional()
  TLS_KEY_FILE?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'expected true or false' })
  HTTPS_REDIRECT?: string;

  @IsOptional()
  @IsPort({ message: 'expected a TCP port number (1-65535)' })
  HTTP_PORT?: string;

  @IsOptional()
  @IsIn(NODE_ENVS, { message: `expected one of ${NODE_ENVS.join(', ')}` })
  NODE_ENV?: string;

  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: string;

  @IsOptional()
  @Matches(/^(\*|https?:\/\/[^\s/,]+(\s*,\s*https?:\/\/[^\s/,]+)*)$/, {
    message:
      'expected * or a comma-separated list of origins, e.g. https://shop.example.com,http://localhost:5173',
  })
  CORS_ORIGINS?: string;

  @IsOptional()
  @Matches(/^\d+\s*(b|kb|mb|gb)?$/i, {
    message: 'expected a size in bytes or with a unit, e.g. 1048576, 512kb, 1mb',
  })
  BODY_LIMIT?: string;

  @IsOptional()
  @Matches(/^(true|false|\d+|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*)$/, {
    message: 'expected true, false, a number of proxy hops, or a comma-separated list of proxy IPs/CIDRs',
  })
  TRUST_PROXY?: string;

  @IsOptional()
  @Matches(/^smtps?:\/\/\S+$/, {
    message: 'expected an SMTP URL, e.g. smtp://user:pass@mail.example.com:587',
  })
  SMTP_URL?: string;

  @IsOptional()
  @Matches(/^[^\s@]+@[^\s@]+$/, { message: 'expected an email address' })
  MAIL_FROM?: string;

  @IsOptional()
  @Matches(/^[^\s@]+@[^\s@]+$/, { message: 'expected an email address' })
  ADMIN_EMAIL?: string;

  /** Checked against the password policy below (length, common passwords). */
  @IsOptional()
  ADMIN_PASSWORD?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'expected true or false' })
  AUTH_REGISTRATION?: string;

  @IsOptional()
  @Matches(/^\d+$/, { message: 'expected a number of seconds, e.g. 900' })
  ACCESS_TOKEN_TTL?: string;

  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'expected the public base URL, e.g. https://shop.example.com' })
  PUBLIC_URL?: string;

  @IsOptional()
  @Matches(
    /^\s*(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9a-fA-F:.]+\])(\s*,\s*(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9a-fA-F:.]+\]))*\s*$/,
    {
      message:
        'expected comma-separated host names without ports: shop.example.com, .example.com (and subdomains), [::1], or *',
    },
  )
  ALLOWED_HOSTS?: string;

  @IsOptional()
  @IsIn(['public', 'protected'], { message: 'expected public or protected' })
  METRICS?: string;

  @IsOptional()
  @IsIn(['on', 'off'], { message: 'expected on or off' })
  RESOURCE_CACHE?: string;

  @IsOptional()
  @Matches(RATE, { message: RATE_MESSAGE })
  RATE_LIMIT_ANON?: string;

  @IsOptional()
  @Matches(RATE, { message: RATE_MESSAGE })
  RATE_LIMIT_USER?: string;

  @IsOptional()
  @Matches(/^[1-9]\d*$/, { message: 'expected a number of seconds, e.g. 2592000 (30 days)' })
  REFRESH_TOKEN_TTL?: string;

  @IsOptional()
  @Matches(/^[1-9]\d*$/, { message: 'expected a number of seconds, e.g. 1800 (30 minutes)' })
  ADMIN_SESSION_IDLE_TIMEOUT?: string;

  @IsOptional()
  @Matches(/^[1-9]\d*$/, { message: 'expected a number of seconds, e.g. 43200 (12 hours)' })
  ADMIN_SESSION_MAX_AGE?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'expected true or false' })
  ADMIN_REQUIRE_2FA?: string;

  @IsOptional()
  @Matches(/^(mailto:|https:\/\/|tel:)\S+(\s*,\s*(mailto:|https:\/\/|tel:)\S+)*$/, {
    message: 'expected comma-separated mailto:, https:// or tel: URIs, e.g. mailto:security@example.com',
  })
  SECURITY_CONTACT?: string;

  @IsOptional()
  @Matches(/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/, {
    message: 'expected an RFC 3339 date-time, e.g. 2027-12-31T23:59:59Z',
  })
  SECURITY_EXPIRES?: string;

  @IsOptional()
  @Matches(/^https:\/\/\S+$/, { message: 'expected an https:// URL of your disclosure policy' })
  SECURITY_POLICY?: string;

  @IsOptional()
  @Matches(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*(\s*,\s*[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*)*$/, {
    message: 'expected comma-separated language tags, e.g. en, fr',
  })
  SECURITY_LANGUAGES?: string;

  @IsOptional()
  @IsIn(['inline', 'off'], { message: 'expected inline or off' })
  WORKERS?: string;

  @IsOptional()
  @IsIn(['public', 'off'], { message: 'expected public or off' })
  DOCS?: string;

  @IsOptional()
  @Matches(/^[1-9][0-9]{0,2}$/, { message: 'expected a version number such as 1 or 2' })
  API_DEFAULT_VERSION?: string;

  @IsOptional()
  @IsIn(JOB_BACKENDS, { message: `expected one of ${JOB_BACKENDS.join(', ')}` })
  JOBS_BACKEND?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,40}$/, { message: 'expected up to 40 letters, digits, _ or -' })
  JOBS_PREFIX?: string;

  @IsOptional()
  @Matches(/^\d+$/, { message: 'expected milliseconds, e.g. 30000' })
  JOBS_SHUTDOWN_TIMEOUT?: string;

  @IsOptional()
  @Matches(/^[1-9]\d{3,}$/, { message: 'expected milliseconds (at least 1000), e.g. 30000' })
  JOBS_LOCK_DURATION?: string;

  @IsOptional()
  @Matches(/^\d{1,6}$/, { message: 'expected milliseconds, e.g. 5000' })
  SHUTDOWN_DRAIN_MS?: string;

  @IsOptional()
  @Matches(TTL, { message: 'expected seconds, or a number with s, m, h or d, e.g. 86400 or 24h' })
  IDEMPOTENCY_TTL?: string;

  @IsOptional()
  @IsIn(IDEMPOTENCY_STORES, { message: `expected one of ${IDEMPOTENCY_STORES.join(', ')}` })
  IDEMPOTENCY_STORE?: string;
}

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

/**
 * Reads and validates Nestor's settings from the environment and an optional `.env`.
 * Throws {@link ConfigError} naming every bad variable. Example: `const config = loadConfig();`
 */
// eslint-disable-next-line max-lines-per-function -- 118 lines, to be split (issue 19 item 5)
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const envFile = options.envFile ?? '.env';
  let env = options.env;
  if (!env) {
    if (envFile && existsSync(envFile)) {
      dotenv.config({ path: envFile, quiet: true });
    }
    env = process.env;
  } else if (envFile && existsSync(envFile)) {
    env = { ...dotenv.parse(readFileSync(envFile)), ...env };
  }
  // An empty value in a .env file means "not set", as in Django's and Laravel's env helpers.
  const raw = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const vars = plainToInstance(EnvironmentVariables, raw, { excludeExtraneousValues: false });

  const problems = validateSync(vars).map((error) => {
    const message = Object.values(error.constraints ?? {}).join('; ');
    return `${error.property}=${JSON.stringify(error.value)}: ${message}`;
  });
  const nodeEnv = (vars.NODE_ENV ?? 'development') as NodeEnv;
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
  if (vars.JOBS_BACKEND === 'redis' && !vars.REDIS_URL) {
    problems.push('JOBS_BACKEND=redis: set REDIS_URL too');
  }
  if (vars.JOBS_BACKEND === 'postgres' && !vars.DATABASE_URL) {
    problems.push('JOBS_BACKEND=postgres: needs DATABASE_URL (bullmq cannot use the embedded database)');
  }
  if (vars.IDEMPOTENCY_STORE === 'redis' && !vars.REDIS_URL) {
    problems.push('IDEMPOTENCY_STORE=redis: set REDIS_URL too');
  }
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
  problems.push(...tlsProblems(vars));
  const oauthProviders = parseOAuthProviders(raw, problems);
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }

  const warnings: string[] = [];
  const dataDir = resolve(vars.DATA_DIR ?? './data');
  const secretKey = vars.SECRET_KEY ?? resolveSecretKey(dataDir, warnings);
  const host = vars.HOST ?? '127.0.0.1';
  // An IPv6 bind address (`::`) needs brackets in a URL.
  const publicUrl = (
    vars.PUBLIC_URL ?? `http://${host.includes(':') ? `[${host}]` : host}:${vars.PORT ?? 3000}`
  ).replace(/\/$/, '');
  const config: LoadedConfig = {
    port: Number(vars.PORT ?? 3000),
    host,
    databaseUrl: vars.DATABASE_URL,
    dataDir,
    redisUrl: vars.REDIS_URL,
    secretKey,
    secretKeyFallbacks: vars.SECRET_KEY_FALLBACKS?.split(',').map((k) => k.trim()) ?? [],
    tls:
      vars.TLS_CERT_FILE && vars.TLS_KEY_FILE
        ? { certFile: resolve(vars.TLS_CERT_FILE), keyFile: resolve(vars.TLS_KEY_FILE) }
        : undefined,
    httpsRedirect: vars.HTTPS_REDIRECT === 'true',
    httpPort: vars.HTTP_PORT ? Number(vars.HTTP_PORT) : undefined,
    nodeEnv,
    logLevel: (vars.LOG_LEVEL ?? (nodeEnv === 'test' ? 'warn' : 'info')) as LogLevel,
    corsOrigins: vars.CORS_ORIGINS ? vars.CORS_ORIGINS.split(',').map((o) => o.trim()) : [],
    bodyLimit: vars.BODY_LIMIT ? parseSize(vars.BODY_LIMIT) : 1024 * 1024,
    trustProxy: parseTrustProxy(vars.TRUST_PROXY),
    smtpUrl: vars.SMTP_URL,
    mailFrom: vars.MAIL_FROM ?? 'Nestor <no-reply@nestor.local>',
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
    workers: (vars.WORKERS ?? (vars.REDIS_URL ? 'off' : 'inline')) as 'inline' | 'off',
    // docs/architecture.md §1: Redis when configured, else bullmq's PostgreSQL backend on a server, else in-process.
    jobsBackend: (vars.JOBS_BACKEND ??
      (vars.REDIS_URL ? 'redis' : vars.DATABASE_URL ? 'postgres' : 'outbox')) as JobBackendName,
    jobsPrefix: vars.JOBS_PREFIX ?? 'nestor',
    jobsShutdownTimeout: Number(vars.JOBS_SHUTDOWN_TIMEOUT ?? 30_000),
    jobsLockDuration: Number(vars.JOBS_LOCK_DURATION ?? 30_000),
    // Behind a load balancer: longer than its health check takes to mark the process down (deploy/haproxy).
    shutdownDrainMs: Number(vars.SHUTDOWN_DRAIN_MS ?? (nodeEnv === 'production' ? 5_000 : 0)),
    idempotency: {
      ttlSeconds: parseTtl(vars.IDEMPOTENCY_TTL ?? '24h'),
      store: (vars.IDEMPOTENCY_STORE ?? (vars.REDIS_URL ? 'redis' : 'database')) as IdempotencyStoreKind,
    },
    migrateOnBoot: nodeEnv !== 'production',
    inMemoryDatabase: false,
    embeddedSharing: 'serve',
    docs: (vars.DOCS ?? 'public') as 'public' | 'off',
    oauthProviders,
    apiDefaultVersion: vars.API_DEFAULT_VERSION ?? '1',
    graphql: graphqlConfig(vars, nodeEnv),
    bootWarnings: warnings,
    explicitlySet: new Set(Object.keys(raw)),
    ...options.overrides,
  };
  return Object.freeze(config);
}
