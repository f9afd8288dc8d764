// The value syntaxes of the environment variables (durations, request budgets, sizes, proxies), parsed once here.
import { RateLimit } from 'src/framework/config/nestor-config';

const TTL_UNITS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;
export const TTL = /^([1-9]\d{0,7})(s|m|h|d)?$/;

const RATE_PERIOD_MS = { second: 1_000, minute: 60_000, hour: 3_600_000 } as const;
export const RATE = /^(?:off|([1-9]\d{0,6})\/(second|minute|hour))$/;
export const RATE_MESSAGE = 'expected off or requests per second, minute or hour, e.g. 300/minute';

/** IDEMPOTENCY_TTL in seconds: `86400`, `24h`, `30m`. Example: `parseTtl('24h')` → 86400. */
export function parseTtl(value: string): number {
  const [, amount, unit] = TTL.exec(value)!;
  return Number(amount) * TTL_UNITS[(unit ?? 's') as keyof typeof TTL_UNITS];
}

/**
 * A request budget (`300/minute`), or `off`. Parses what RATE_LIMIT_ANON / RATE_LIMIT_USER accept.
 * Example: `parseRate('300/minute')` → `{ limit: 300, ttlMs: 60000 }`.
 */
export function parseRate(value: string): RateLimit | undefined {
  const match = RATE.exec(value);
  if (!match || value === 'off') {
    return undefined;
  }
  return { limit: Number(match[1]), ttlMs: RATE_PERIOD_MS[match[2] as keyof typeof RATE_PERIOD_MS] };
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** BODY_LIMIT in bytes: `1048576`, `512kb`, `1mb`. Example: `parseSize('1mb')` → 1048576. */
export function parseSize(value: string): number {
  const [, digits, unit] = /^(\d+)\s*([a-z]*)$/i.exec(value.trim())!;
  return Number(digits) * UNITS[(unit || 'b').toLowerCase()];
}

/** TRUST_PROXY as Fastify takes it. Example: `parseTrustProxy('10.0.0.0/8')` → `['10.0.0.0/8']`. */
export function parseTrustProxy(value: string | undefined): boolean | number | string[] {
  if (value === undefined || value === 'false') {
    return false;
  }
  if (value === 'true') {
    return true;
  }
  if (/^\d+$/.test(value)) {
    return Number(value);
  }
  return value.split(',').map((s) => s.trim());
}
