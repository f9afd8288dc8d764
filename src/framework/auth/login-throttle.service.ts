import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { normalizeEmail } from 'src/framework/auth/auth.service';
import { deriveKey } from 'src/framework/crypto/keys';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { OTP_REQUIRED } from 'src/framework/auth/two-factor.service';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { ProblemException } from 'src/framework/http/problem';

/**
 * 10 failed credential checks within 6 minutes lock an account, or a client address, until the window
 * ends: at most 100 failures an hour per account (ASVS V2.2.1).
 */
export const LOGIN_THROTTLE = { limit: 10, windowSeconds: 360 } as const;

export const TOO_MANY_ATTEMPTS = 'urn:nestor:problem:too-many-attempts';

/** A request limit of one sensitive flow: at most `limit` requests per key in a fixed window. */
export interface RequestLimit {
  /** Stored in `login_attempt.scope` (≤ 16 characters) and mixed into the key. */
  scope: string;
  /** What the subject is: a client address (bucketed as login's are) or an email (normalized). */
  by: 'ip' | 'email';
  limit: number;
  windowSeconds: number;
}

/**
 * Sensitive account flows that are not credential checks (OWASP API6): every request counts, valid or not
 * for an existing account or not, so a 429 reveals nothing about accounts. Per client address against
 * automation (mass registration, address probing), and per address against mail bombing one inbox.
 */
export const ACCOUNT_THROTTLES = {
  registerPerIp: { scope: 'register-ip', by: 'ip', limit: 30, windowSeconds: 3600 },
  forgotPerIp: { scope: 'forgot-ip', by: 'ip', limit: 100, windowSeconds: 3600 },
  forgotPerAccount: { scope: 'forgot-account', by: 'email', limit: 30, windowSeconds: 3600 },
} as const satisfies Record<string, RequestLimit>;

/** The longest window of any counter in `login_attempt`: rows older than it are always expired. */
const LONGEST_WINDOW_SECONDS = Math.max(
  LOGIN_THROTTLE.windowSeconds,
  ...Object.values(ACCOUNT_THROTTLES).map((rule) => rule.windowSeconds),
);

/** Expired rows are deleted at most this often per process. */
const SWEEP_EVERY_MS = 60_000;

/** 429 with `Retry-After`; the same body whichever key is locked and whether the account exists. */
export function tooManyAttempts(retryAfterSeconds: number): ProblemException {
  return new ProblemException(
    {
      type: TOO_MANY_ATTEMPTS,
      title: 'Too Many Requests',
      status: 429,
      detail: `Too many failed sign-in attempts. Try again in ${retryAfterSeconds} seconds.`,
    },
    { 'retry-after': String(retryAfterSeconds) },
  );
}

/** 429 with `Retry-After` for a request limit (a sensitive flow's, or the API's own: rate-limit.ts). */
export function tooManyRequests(
  retryAfterSeconds: number,
  what = 'Too many requests of this kind.',
): ProblemException {
  return new ProblemException(
    {
      type: TOO_MANY_ATTEMPTS,
      title: 'Too Many Requests',
      status: 429,
      detail: `${what} Try again in ${retryAfterSeconds} seconds.`,
    },
    { 'retry-after': String(retryAfterSeconds) },
  );
}

/**
 * What a client address counts as: IPv4 as is (also when IPv4-mapped), IPv6 by its /64 prefix, because
 * one subscriber usually holds a whole /64.
 */
export function clientBucket(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) {
    return mapped[1];
  }
  if (isIPv4(address) || !isIPv6(address)) {
    return address;
  }
  const [head, tail = ''] = address.toLowerCase().split('::');
  const groups = (part: string): string[] =>
    part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const full = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${full
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * The default rule for what counts as a failed attempt: any 401, except "one-time code required" (the
 * password was right; the client now asks for the code).
 */
export function isCredentialFailure(error: unknown): boolean {
  return (
    error instanceof ProblemException && error.problem.status === 401 && error.problem.type !== OTP_REQUIRED
  );
}

/**
 * Login throttling per account (normalized email, whether or not it exists) and per client address,
 * counted in PostgreSQL (`login_attempt`) so that several processes share one budget.
 *
 * Each attempt first reserves a failure on both keys with one atomic upsert; when a key was already at
 * the limit the attempt is refused with 429 before the password is even looked at (so parallel requests
 * cannot overshoot the limit). A successful check resets the account's counter and gives the address its
 * reservation back; a failed one keeps it.
 */
/**
 * Counts one more attempt on a key, restarting its window ($3 seconds) when the last one ended, and returns
 * the count and the seconds left in the window. Appended to an INSERT of (key, scope, 1, now()) rows.
 */
const COUNT_IN_WINDOW = `ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN login_attempt."windowStart" > now() - make_interval(secs => $3)
                  THEN login_attempt.failures + 1 ELSE 1 END,
  "windowStart" = CASE WHEN login_attempt."windowStart" > now() - make_interval(secs => $3)
                       THEN login_attempt."windowStart" ELSE now() END
RETURNING failures,
  ceil(extract(epoch FROM "windowStart" + make_interval(secs => $3) - now()))::int AS "retryAfter"`;

/** How `attempt` counts and logs: which errors are failures, and the security event prefix. */
export interface AttemptOptions {
  /** Default: a 401 other than "one-time code required". */
  countsAsFailure?: (error: unknown) => boolean;
  /** `login` (default) or `2fa-disable`: events are `<event>.failed`, `.locked`, `.refused`. */
  event?: 'login' | '2fa-disable' | '2fa-recovery-codes';
}

@Injectable()
export class LoginThrottleService {
  private readonly logger = new Logger('LoginThrottle');
  private readonly hmacKey: Buffer;
  private lastSweep = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: SecurityEvents,
    config: NestorConfig,
  ) {
    this.hmacKey = deriveKey(config.secretKey, 'login-throttle');
  }

  /**
   * Runs a credential check under the limits of `account` and the request's client address, and logs
   * failures, lockouts and refusals as security events.
   * Example: `return throttle.attempt(body.email, request, () => auth.login(body.email, body.password))`.
   */
  async attempt<T>(
    account: string,
    request: FastifyRequest,
    check: () => Promise<T>,
    options: AttemptOptions = {},
  ): Promise<T> {
    const { countsAsFailure = isCredentialFailure, event = 'login' } = options;
    await this.sweep();
    const email = normalizeEmail(account);
    const accountKey = this.key('account', email);
    const ipKey = this.key('ip', clientBucket(request.ip));
    const keys = [accountKey, ipKey];
    const locked = await this.reserve(keys);
    if (locked !== undefined) {
      await this.release(keys);
      this.events.record(`${event}.locked`, { email, retryAfter: locked }, request);
      throw tooManyAttempts(locked);
    }
    let result: T;
    try {
      result = await check();
    } catch (error) {
      const reason = (error instanceof ProblemException && error.problem.type) || 'error';
      if (!countsAsFailure(error)) {
        await this.release(keys);
        if (error instanceof ProblemException && error.problem.status === 403) {
          this.events.record(`${event}.refused`, { email, reason }, request);
        }
      } else {
        this.events.record(`${event}.failed`, { email, reason }, request);
      }
      throw error;
    }
    await this.dataSource.query('DELETE FROM login_attempt WHERE key = $1', [accountKey.key]);
    await this.release([ipKey]);
    return result;
  }

  /**
   * Counts one request of a sensitive flow on each rule's key (a client address or an email) and throws 429 once a key is past its limit; nothing is given
   * back, whatever the request's outcome.
   * Example: `await throttle.limit([[ACCOUNT_THROTTLES.registerPerIp, request.ip]])`.
   */
  async limit(rules: readonly (readonly [RequestLimit, string])[]): Promise<void> {
    await this.sweep();
    let retryAfter: number | undefined;
    for (const [rule, subject] of rules) {
      const { key } = this.key(
        rule.scope,
        rule.by === 'ip' ? clientBucket(subject) : normalizeEmail(subject),
      );
      // One statement per key: each is atomic on its own, so parallel requests cannot overshoot.
      const [row] = await this.dataSource.query<{ failures: number; retryAfter: number }[]>(
        `INSERT INTO login_attempt (key, scope, failures, "windowStart") VALUES ($1, $2, 1, now()) ${COUNT_IN_WINDOW}`,
        [key, rule.scope, rule.windowSeconds],
      );
      if (row.failures > rule.limit) {
        retryAfter = Math.max(retryAfter ?? 1, row.retryAfter);
      }
    }
    if (retryAfter !== undefined) {
      throw tooManyRequests(retryAfter);
    }
  }

  private key(scope: string, subject: string): { key: string; scope: string } {
    return { key: createHmac('sha256', this.hmacKey).update(`${scope}:${subject}`).digest('hex'), scope };
  }

  /**
   * Counts one failure on each key (a new window when the last one ended) and returns the seconds until
   * the latest-ending locked window ends, or undefined when no key was at the limit before this attempt.
   * Keys are upserted in a fixed order, so concurrent attempts cannot deadlock.
   */
  private async reserve(keys: { key: string; scope: string }[]): Promise<number | undefined> {
    const sorted = [...keys].sort((a, b) => a.key.localeCompare(b.key));
    const rows = await this.dataSource.query<{ failures: number; retryAfter: number }[]>(
      `INSERT INTO login_attempt (key, scope, failures, "windowStart")
       SELECT k, s, 1, now() FROM unnest($1::varchar[], $2::varchar[]) AS t(k, s) ${COUNT_IN_WINDOW}`,
      [sorted.map((k) => k.key), sorted.map((k) => k.scope), LOGIN_THROTTLE.windowSeconds],
    );
    const locked = rows.filter((row) => row.failures > LOGIN_THROTTLE.limit);
    return locked.length === 0 ? undefined : Math.max(1, ...locked.map((row) => row.retryAfter));
  }

  /** Gives back a reservation (the attempt did not fail, or was refused without a check). */
  private async release(keys: { key: string }[]): Promise<void> {
    await this.dataSource.query(
      'UPDATE login_attempt SET failures = failures - 1 WHERE key = ANY($1::varchar[]) AND failures > 0',
      [keys.map((k) => k.key)],
    );
  }

  /** Deletes counters whose window has ended (at most once a minute per process). */
  private async sweep(): Promise<void> {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) {
      return;
    }
    this.lastSweep = Date.now();
    try {
      // Login's short windows by scope; every other counter by the longest window there is.
      await this.dataSource.query(
        `DELETE FROM login_attempt WHERE "windowStart" <= now() - make_interval(secs => $2)
            OR (scope = ANY($3::varchar[]) AND "windowStart" <= now() - make_interval(secs => $1))`,
        [LOGIN_THROTTLE.windowSeconds, LONGEST_WINDOW_SECONDS, ['account', 'ip']],
      );
    } catch (error) {
      this.logger.warn(`Could not sweep expired login attempts: ${(error as Error).message}`);
    }
  }
}
