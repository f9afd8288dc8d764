import type { LoadedConfig } from 'src/framework/config/load-config';

/** One finding of `nestor check --deploy`, coded like Django's `security.W0xx`. */
export interface DeployFinding {
  code: string;
  message: string;
}

/** What the checks need beyond the configuration. */
export interface DeployFacts {
  /** Migrations committed but not applied to the configured database. */
  pendingMigrations: readonly string[];
  /** The time to judge expiry dates against (default now), for tests. */
  now?: number;
}

/** Django's test for a weak SECRET_KEY: too short or too few distinct characters (e.g. "xxxx…"). */
function weakSecret(key: string): boolean {
  return key.length < 32 || new Set(key).size < 5 || /^(change|secret|dev|test|insecure)/i.test(key);
}

/** One item of the checklist: the finding it raises about the configuration, if any. */
type DeployCheck = (config: LoadedConfig, facts: DeployFacts) => DeployFinding | undefined;

/** Tokens and sessions are only as safe as the key that signs them. */
function secretKeyFinding(config: LoadedConfig): DeployFinding | undefined {
  if (!config.explicitlySet.has('SECRET_KEY')) {
    return {
      code: 'NST-W001',
      message: 'SECRET_KEY is not set: tokens and sessions are signed with a development key.',
    };
  }
  return weakSecret(config.secretKey)
    ? {
        code: 'NST-W002',
        message:
          'SECRET_KEY is weak (under 32 characters, under 5 distinct ones, or a placeholder): generate one with `openssl rand -base64 48`.',
      }
    : undefined;
}

function nodeEnvFinding(config: LoadedConfig): DeployFinding | undefined {
  return config.nodeEnv !== 'production'
    ? {
        code: 'NST-W003',
        message: `NODE_ENV is ${config.nodeEnv}: set NODE_ENV=production (secure session cookies, HSTS, no migrations on boot).`,
      }
    : undefined;
}

function publicUrlFinding(config: LoadedConfig): DeployFinding | undefined {
  return !config.publicUrl.startsWith('https://')
    ? {
        code: 'NST-W004',
        message: `PUBLIC_URL is ${config.publicUrl}: serve over HTTPS, or secure session cookies are not sent back and emailed links are sent in clear.`,
      }
    : undefined;
}

function corsFinding(config: LoadedConfig): DeployFinding | undefined {
  return config.corsOrigins.includes('*')
    ? {
        code: 'NST-W005',
        message: 'CORS_ORIGINS is *: any website may call the API from a browser; list the origins instead.',
      }
    : undefined;
}

function databaseFinding(config: LoadedConfig): DeployFinding | undefined {
  return !config.databaseUrl
    ? {
        code: 'NST-W006',
        message:
          'DATABASE_URL is not set: the embedded database serves one process and is not for production.',
      }
    : undefined;
}

function jobsBackendFinding(config: LoadedConfig): DeployFinding | undefined {
  return config.jobsBackend !== 'redis'
    ? {
        code: 'NST-W007',
        message: `Jobs run on ${config.jobsBackend === 'postgres' ? "bullmq's PostgreSQL backend" : 'the in-process outbox'}: set REDIS_URL for production queues.`,
      }
    : undefined;
}

function migrationsFinding(_config: LoadedConfig, facts: DeployFacts): DeployFinding | undefined {
  return facts.pendingMigrations.length > 0
    ? {
        code: 'NST-W008',
        message: `${facts.pendingMigrations.length} migration(s) not applied (${facts.pendingMigrations.join(', ')}): run \`nestor migrate\`.`,
      }
    : undefined;
}

function docsFinding(config: LoadedConfig): DeployFinding | undefined {
  return !config.explicitlySet.has('DOCS')
    ? {
        code: 'NST-W009',
        message: 'DOCS is not set: decide whether /docs is public (DOCS=public) or hidden (DOCS=off).',
      }
    : undefined;
}

/** Client IPs and HTTPS are only seen through the proxies named, and only those should be believed. */
function trustProxyFinding(config: LoadedConfig): DeployFinding | undefined {
  if (!config.explicitlySet.has('TRUST_PROXY')) {
    return {
      code: 'NST-W010',
      message:
        'TRUST_PROXY is not set: behind a load balancer set it (hops or proxy addresses) so client IPs and HTTPS are seen; otherwise set TRUST_PROXY=false.',
    };
  }
  return config.trustProxy === true
    ? {
        code: 'NST-W011',
        message:
          'TRUST_PROXY=true trusts any X-Forwarded-For: give the hop count or proxy addresses instead.',
      }
    : undefined;
}

function smtpFinding(config: LoadedConfig): DeployFinding | undefined {
  return !config.smtpUrl
    ? {
        code: 'NST-W012',
        message: 'SMTP_URL is not set: mail (password resets, verification) is only logged, never delivered.',
      }
    : undefined;
}

function metricsFinding(config: LoadedConfig): DeployFinding | undefined {
  return !config.explicitlySet.has('METRICS')
    ? {
        code: 'NST-W013',
        message:
          'METRICS is not set: /metrics is public. Set METRICS=protected (scrape with an API key holding metrics.view) or METRICS=public.',
      }
    : undefined;
}

function allowedHostsFinding(config: LoadedConfig): DeployFinding | undefined {
  return config.allowedHosts.includes('*')
    ? {
        code: 'NST-W014',
        message:
          'ALLOWED_HOSTS is *: any Host header is accepted (cache poisoning, links to other hosts); list the hosts instead.',
      }
    : undefined;
}

function adminTwoFactorFinding(config: LoadedConfig): DeployFinding | undefined {
  return !config.adminRequire2fa
    ? {
        code: 'NST-W017',
        message:
          'ADMIN_REQUIRE_2FA is not true: staff can open admin sessions with a password alone. Set ADMIN_REQUIRE_2FA=true once staff have turned 2FA on.',
      }
    : undefined;
}

/** security.txt should exist and stay valid: an expired one tells researchers nobody reads it. */
function securityTxtFinding(config: LoadedConfig, facts: DeployFacts): DeployFinding | undefined {
  if (!config.securityTxt) {
    return {
      code: 'NST-W015',
      message:
        'SECURITY_CONTACT and SECURITY_EXPIRES are not set: publish /.well-known/security.txt (RFC 9116) so researchers know where to report a vulnerability.',
    };
  }
  return config.securityTxt.expires.getTime() - (facts.now ?? Date.now()) < 30 * 24 * 3600 * 1000
    ? {
        code: 'NST-W016',
        message: `SECURITY_EXPIRES is ${config.securityTxt.expires.toISOString()}: security.txt expires within 30 days (or has); set a later date (RFC 9116 recommends less than a year ahead).`,
      }
    : undefined;
}

function httpsFinding(config: LoadedConfig): DeployFinding | undefined {
  return config.nodeEnv === 'production' && !config.tls && config.trustProxy === false
    ? {
        code: 'NST-W018',
        message:
          'Neither TLS_CERT_FILE/TLS_KEY_FILE nor TRUST_PROXY is set: nothing serves HTTPS. Serve it here (TLS_CERT_FILE and TLS_KEY_FILE) or behind a TLS-terminating proxy named in TRUST_PROXY.',
      }
    : undefined;
}

/** The checklist in the order `nestor check --deploy` prints it (a new check goes where its topic is). */
const DEPLOY_CHECKS: readonly DeployCheck[] = [
  secretKeyFinding,
  nodeEnvFinding,
  publicUrlFinding,
  corsFinding,
  databaseFinding,
  jobsBackendFinding,
  migrationsFinding,
  docsFinding,
  trustProxyFinding,
  smtpFinding,
  metricsFinding,
  allowedHostsFinding,
  adminTwoFactorFinding,
  securityTxtFinding,
  httpsFinding,
];

/**
 * Audits production settings, like Django's deployment checklist. An empty list means ready to deploy.
 * Example: `deployFindings(loadConfig(), { pendingMigrations: [] })`.
 */
export function deployFindings(config: LoadedConfig, facts: DeployFacts): DeployFinding[] {
  return DEPLOY_CHECKS.map((check) => check(config, facts)).filter(
    (finding): finding is DeployFinding => finding !== undefined,
  );
}
