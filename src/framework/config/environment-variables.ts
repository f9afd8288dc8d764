import { IsIn, IsOptional, IsPort, Matches, MinLength } from 'class-validator';
import { IDEMPOTENCY_STORES, JOB_BACKENDS, LOG_LEVELS, NODE_ENVS } from 'src/framework/config/nestor-config';
import { RATE, RATE_MESSAGE, TTL } from 'src/framework/config/config-values';
import { GraphqlVariables } from 'src/framework/config/graphql-config';

/**
 * The environment variables Nestor reads; each message says what the variable expects. `loadConfig` checks
 * them with class-validator, then the combinations no single decorator can see.
 */
export class EnvironmentVariables extends GraphqlVariables {
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

  /** `npm run worker`'s probes (/health/live, /health/ready) on this port; unset: none. */
  @IsOptional()
  @IsPort({ message: 'expected a TCP port number (1-65535)' })
  WORKER_HEALTH_PORT?: string;

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
  @Matches(/^(\d|[1-9]\d|100)$/, { message: 'expected a whole number from 0 to 100, e.g. 2' })
  JOBS_MAX_STALLS?: string;

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
