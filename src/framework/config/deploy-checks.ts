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

/**
 * Audits production settings, like Django's deployment checklist. An empty list means ready to deploy.
 * Example: `deployFindings(loadConfig(), { pendingMigrations: [] })`.
 */
// eslint-disable-next-line max-lines-per-function -- 98 lines, to be split (issue 19 item 5)
export function deployFindings(config: LoadedConfig, facts: DeployFacts): DeployFinding[] {
  const findings: DeployFinding[] = [];
  const add = (code: string, message: string): number => findings.push({ code, message });
  if (!config.explicitlySet.has('SECRET_KEY')) {
    add('NST-W001', 'SECRET_KEY is not set: tokens and sessions are signed with a development key.');
  } else if (weakSecret(config.secretKey)) {
    add(
      'NST-W002',
      'SECRET_KEY is weak (under 32 characters, under 5 distinct ones, or a placeholder): generate one with `openssl rand -base64 48`.',
    );
  }
  if (config.nodeEnv !== 'production') {
    add(
      'NST-W003',
      `NODE_ENV is ${config.nodeEnv}: set NODE_ENV=production (secure session cookies, HSTS, no migrations on boot).`,
    );
  }
  if (!config.publicUrl.startsWith('https://')) {
    add(
      'NST-W004',
      `PUBLIC_URL is ${config.publicUrl}: serve over HTTPS, or secure session cookies are not sent back and emailed links are sent in clear.`,
    );
  }
  if (config.corsOrigins.includes('*')) {
    add(
      'NST-W005',
      'CORS_ORIGINS is *: any website may call the API from a browser; list the origins instead.',
    );
  }
  if (!config.databaseUrl) {
    add(
      'NST-W006',
      'DATABASE_URL is not set: the embedded database serves one process and is not for production.',
    );
  }
  if (config.jobsBackend !== 'redis') {
    add(
      'NST-W007',
      `Jobs run on ${config.jobsBackend === 'postgres' ? "bullmq's PostgreSQL backend" : 'the in-process outbox'}: set REDIS_URL for production queues.`,
    );
  }
  if (facts.pendingMigrations.length > 0) {
    add(
      'NST-W008',
      `${facts.pendingMigrations.length} migration(s) not applied (${facts.pendingMigrations.join(', ')}): run \`nestor migrate\`.`,
    );
  }
  if (!config.explicitlySet.has('DOCS')) {
    add('NST-W009', 'DOCS is not set: decide whether /docs is public (DOCS=public) or hidden (DOCS=off).');
  }
  if (!config.explicitlySet.has('TRUST_PROXY')) {
    add(
      'NST-W010',
      'TRUST_PROXY is not set: behind a load balancer set it (hops or proxy addresses) so client IPs and HTTPS are seen; otherwise set TRUST_PROXY=false.',
    );
  } else if (config.trustProxy === true) {
    add(
      'NST-W011',
      'TRUST_PROXY=true trusts any X-Forwarded-For: give the hop count or proxy addresses instead.',
    );
  }
  if (!config.smtpUrl) {
    add(
      'NST-W012',
      'SMTP_URL is not set: mail (password resets, verification) is only logged, never delivered.',
    );
  }
  if (!config.explicitlySet.has('METRICS')) {
    add(
      'NST-W013',
      'METRICS is not set: /metrics is public. Set METRICS=protected (scrape with an API key holding metrics.view) or METRICS=public.',
    );
  }
  if (config.allowedHosts.includes('*')) {
    add(
      'NST-W014',
      'ALLOWED_HOSTS is *: any Host header is accepted (cache poisoning, links to other hosts); list the hosts instead.',
    );
  }
  if (!config.adminRequire2fa) {
    add(
      'NST-W017',
      'ADMIN_REQUIRE_2FA is not true: staff can open admin sessions with a password alone. Set ADMIN_REQUIRE_2FA=true once staff have turned 2FA on.',
    );
  }
  if (!config.securityTxt) {
    add(
      'NST-W015',
      'SECURITY_CONTACT and SECURITY_EXPIRES are not set: publish /.well-known/security.txt (RFC 9116) so researchers know where to report a vulnerability.',
    );
  } else if (config.securityTxt.expires.getTime() - (facts.now ?? Date.now()) < 30 * 24 * 3600 * 1000) {
    add(
      'NST-W016',
      `SECURITY_EXPIRES is ${config.securityTxt.expires.toISOString()}: security.txt expires within 30 days (or has); set a later date (RFC 9116 recommends less than a year ahead).`,
    );
  }
  if (config.nodeEnv === 'production' && !config.tls && config.trustProxy === false) {
    add(
      'NST-W018',
      'Neither TLS_CERT_FILE/TLS_KEY_FILE nor TRUST_PROXY is set: nothing serves HTTPS. Serve it here (TLS_CERT_FILE and TLS_KEY_FILE) or behind a TLS-terminating proxy named in TRUST_PROXY.',
    );
  }
  return findings;
}
