import type { OAuthProviderConfig } from 'src/framework/config/oauth-providers';
import type { TlsFiles } from 'src/framework/config/tls';

/** Pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Where jobs are queued and run: `redis` (bullmq on REDIS_URL, production), `postgres` (bullmq's PostgreSQL
 * backend on DATABASE_URL, schema `bullmq`), `outbox` (development mode on the embedded database: the
 * process running workers takes due rows from the outbox table itself).
 */
export const JOB_BACKENDS = ['redis', 'postgres', 'outbox'] as const;
export type JobBackendName = (typeof JOB_BACKENDS)[number];

/** Where `Idempotency-Key` records live: the `idempotency_key` table, or Redis (see the README). */
export const IDEMPOTENCY_STORES = ['database', 'redis'] as const;
export type IdempotencyStoreKind = (typeof IDEMPOTENCY_STORES)[number];

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

/**
 * The validated, typed settings of a Nestor process. Inject it by class:
 * `constructor(private readonly config: NestorConfig) {}` then `this.config.port`.
 */
export abstract class NestorConfig {
  abstract readonly port: number;
  abstract readonly host: string;
  /** `postgres://…` when a PostgreSQL server is used; undefined → embedded PGlite in `dataDir`. */
  abstract readonly databaseUrl: string | undefined;
  /** Absolute path of the data directory (embedded database, generated secret key). */
  abstract readonly dataDir: string;
  abstract readonly redisUrl: string | undefined;
  abstract readonly secretKey: string;
  /**
   * Earlier secret keys, newest first (SECRET_KEY_FALLBACKS, comma-separated, Django's name): values sealed
   * under them still open while `nestor rotate-secrets` re-seals them under SECRET_KEY.
   */
  abstract readonly secretKeyFallbacks: readonly string[];
  /**
   * HTTPS served by this process (TLS_CERT_FILE and TLS_KEY_FILE, PEM, absolute paths): HTTP/2 with HTTP/1.1
   * fallback, TLS 1.2+; the files are read again on SIGHUP. Undefined → plain HTTP (e.g. behind a proxy).
   */
  abstract readonly tls: TlsFiles | undefined;
  /**
   * HTTPS_REDIRECT=true: requests that arrived in plain HTTP (X-Forwarded-Proto from a trusted proxy, or the
   * HTTP_PORT listener next to a TLS server) are redirected (308) to https://.
   */
  abstract readonly httpsRedirect: boolean;
  /** With TLS and HTTPS_REDIRECT: a plain-HTTP port that only redirects to HTTPS on PORT (HTTP_PORT). */
  abstract readonly httpPort: number | undefined;
  /** Where a worker process answers /health/live and /health/ready, on HOST (WORKER_HEALTH_PORT); unset: nowhere. */
  abstract readonly workerHealthPort: number | undefined;
  abstract readonly nodeEnv: NodeEnv;
  abstract readonly logLevel: LogLevel;
  /** Allowed CORS origins; empty → CORS off. `['*']` allows any origin. */
  abstract readonly corsOrigins: readonly string[];
  /** Largest accepted request body, in bytes. */
  abstract readonly bodyLimit: number;
  /** Fastify's `trustProxy`: false, true, a hop count, or a list of addresses/CIDRs. */
  abstract readonly trustProxy: boolean | number | string[];
  /** `smtp://…` of the mail server; undefined → the development transport (logs mail, keeps the last ones). */
  abstract readonly smtpUrl: string | undefined;
  abstract readonly mailFrom: string;
  /** The first superuser, created at boot when no user has this email (ADMIN_EMAIL / ADMIN_PASSWORD). */
  abstract readonly admin: { email: string; password: string } | undefined;
  /** Whether `POST /api/auth/register` is open (AUTH_REGISTRATION, default true). */
  abstract readonly registrationOpen: boolean;
  /** Access token lifetime in seconds (ACCESS_TOKEN_TTL, default 900 = 15 minutes). */
  abstract readonly accessTokenTtl: number;
  /**
   * Refresh token lifetime in seconds (REFRESH_TOKEN_TTL, default 30 days): an API session unused this long
   * ends; each refresh starts the period again.
   */
  abstract readonly refreshTokenTtl: number;
  /**
   * Admin cookie sessions end after `idleTimeout` seconds without a request (ADMIN_SESSION_IDLE_TIMEOUT,
   * default 1800) and `maxAge` seconds after login whatever happens (ADMIN_SESSION_MAX_AGE, default 43200).
   */
  abstract readonly adminSession: { idleTimeout: number; maxAge: number };
  /** Staff may open an admin session only with 2FA turned on (ADMIN_REQUIRE_2FA, default false). */
  abstract readonly adminRequire2fa: boolean;
  /**
   * `/.well-known/security.txt` (RFC 9116) from SECURITY_CONTACT (URIs) and SECURITY_EXPIRES (required
   * together), SECURITY_POLICY and SECURITY_LANGUAGES; undefined → not served (404).
   */
  abstract readonly securityTxt:
    { contact: string[]; expires: Date; policy?: string; languages?: string[] } | undefined;
  /** Base URL used in emailed links (PUBLIC_URL, default http://HOST:PORT). */
  abstract readonly publicUrl: string;
  /**
   * Host names requests may name in Host (ALLOWED_HOSTS, comma-separated, as Django's): `shop.example.com`,
   * `.example.com` for a domain and its subdomains, `*` for any. Default: PUBLIC_URL's host and loopback.
   */
  abstract readonly allowedHosts: readonly string[];
  /**
   * Who may read `/metrics`: anyone (METRICS=public, the default) or callers with the `metrics.view`
   * permission (METRICS=protected; Prometheus scrapes with an API key holding it).
   */
  abstract readonly metrics: 'public' | 'protected';
  /**
   * Whether resources declared with `cache` are cached (RESOURCE_CACHE, `on` by default; `off` reads every
   * answer from the database, e.g. to compare with and without it).
   */
  abstract readonly resourceCache: boolean;
  /**
   * Request budgets per client address (anonymous) and per user (RATE_LIMIT_ANON, default 300/minute;
   * RATE_LIMIT_USER, default 1200/minute; off in NODE_ENV=test); undefined → not limited.
   */
  abstract readonly rateLimits: { anonymous: RateLimit | undefined; user: RateLimit | undefined };
  /** Run job processors in this process (`inline`) or not (`off`); the worker process always runs them. */
  abstract readonly workers: 'inline' | 'off';
  /** Which backend queues and runs jobs (JOBS_BACKEND; default from REDIS_URL / DATABASE_URL). */
  abstract readonly jobsBackend: JobBackendName;
  /** Redis key prefix of the job queues (JOBS_PREFIX, default `nestor`): one per app or test. */
  abstract readonly jobsPrefix: string;
  /** How long a clean shutdown waits for running jobs (ms). */
  abstract readonly jobsShutdownTimeout: number;
  /**
   * Lock of a running job and stalled-check period (JOBS_LOCK_DURATION, ms, default 30000): a job whose
   * worker died is run again between one and two periods later.
   */
  abstract readonly jobsLockDuration: number;
  /**
   * How many times a job's worker may die under it before the job counts as a poison pill (JOBS_MAX_STALLS,
   * default 2): on the next delivery it completes if its effects committed, and fails for good otherwise.
   */
  abstract readonly jobsMaxStalls: number;
  /**
   * After SIGTERM, how long the HTTP process keeps serving normally while `/health/ready` answers 503, so a
   * load balancer stops sending it requests before it closes (SHUTDOWN_DRAIN_MS, default 5000 in
   * production, 0 otherwise).
   */
  abstract readonly shutdownDrainMs: number;
  /**
   * `Idempotency-Key` records: how long a key is remembered (IDEMPOTENCY_TTL, seconds, default 86400 = 24 h)
   * and where (IDEMPOTENCY_STORE: `database`, the default, or `redis` when REDIS_URL is set).
   */
  abstract readonly idempotency: { ttlSeconds: number; store: IdempotencyStoreKind };
  /** Apply pending migrations when the database opens (development and the embedded default). */
  abstract readonly migrateOnBoot: boolean;
  /** Serve Swagger UI and the OpenAPI document at /docs (DOCS=public, the default) or not (DOCS=off). */
  abstract readonly docs: 'public' | 'off';
  /** "Sign in with …" providers (OAUTH_PROVIDERS and OAUTH_<NAME>_*); empty → OAuth sign-in is off. */
  abstract readonly oauthProviders: readonly OAuthProviderConfig[];
  /**
   * The API version served at the unversioned paths (`/api/products`), API_DEFAULT_VERSION, default `1`; it
   * is also reachable as `/api/v1/products`.
   */
  abstract readonly apiDefaultVersion: string;
  /**
   * The GraphQL endpoint built from the resources (GRAPHQL=on|off, GRAPHQL_PATH, default /graphql): the
   * GraphiQL IDE (GRAPHQL_IDE) and introspection (GRAPHQL_INTROSPECTION) are on outside production and off
   * in it unless set; GRAPHQL_MAX_DEPTH (default 10) and GRAPHQL_MAX_COMPLEXITY (default 5000) refuse
   * abusive documents before they run.
   */
  abstract readonly graphql: GraphqlConfig;
  /** Embedded database in memory instead of `dataDir` (scratch databases for tests and schema diffs). */
  abstract readonly inMemoryDatabase: boolean;
  /**
   * On the embedded database in `dataDir`: `serve` opens it and shares it with `nestor` commands on a Unix
   * socket while this process runs (servers and workers); `borrow` uses the socket of the process that holds
   * it, and opens the files only when no process does (`nestor` commands).
   */
  abstract readonly embeddedSharing: 'serve' | 'borrow';
}

/** The GraphQL endpoint's settings (see NestorConfig.graphql). */
export interface GraphqlConfig {
  enabled: boolean;
  path: string;
  ide: boolean;
  introspection: boolean;
  maxDepth: number;
  maxComplexity: number;
  /** Apollo's automatic persisted queries (a client sends a document's sha256, the document once). */
  persistedQueries: 'automatic' | 'off';
}

/** A request budget: at most `limit` requests per `ttlMs` milliseconds. */
export interface RateLimit {
  limit: number;
  ttlMs: number;
}

/** Which database serves this process, in words for logs and the boot banner. */
export function describeDatabase(config: NestorConfig): string {
  if (!config.databaseUrl) {
    return `embedded PGlite (${config.dataDir}/pglite)`;
  }
  const url = new URL(config.databaseUrl);
  return `PostgreSQL ${url.hostname}:${url.port || '5432'}${url.pathname}`;
}

/** Which job backend the configuration selects (docs/architecture.md §1). */
export function describeJobBackend(config: NestorConfig): string {
  const where = config.workers === 'inline' ? 'workers in this process' : 'workers: run `npm run worker`';
  if (config.jobsBackend === 'redis') {
    const url = new URL(config.redisUrl!);
    return `bullmq on Redis ${url.hostname}:${url.port || '6379'} (${where})`;
  }
  if (config.jobsBackend === 'postgres') {
    return `bullmq on PostgreSQL, schema "bullmq" (${where}; set REDIS_URL to scale out)`;
  }
  // The embedded database cannot be shared with another process, so only this one can run its jobs.
  return config.workers === 'inline'
    ? 'in-process from the outbox (development mode; set DATABASE_URL or REDIS_URL in production)'
    : 'outbox only: WORKERS=off on the embedded database, so nothing runs the jobs';
}
