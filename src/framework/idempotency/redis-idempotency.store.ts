import { createHash } from 'node:crypto';
import type * as IORedis from 'ioredis';
import type { EntityManager } from 'typeorm';
import {
  ClaimRef,
  ClaimResult,
  IdempotencyStore,
  StoredResponse,
  verdict,
} from 'src/framework/idempotency/idempotency.store';
import { lazyModule } from 'src/framework/lazy-module';

const ioredis = lazyModule<typeof IORedis>('ioredis');

/** Redis' own clock in ms, so every process agrees on leases. */
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Each operation is one script: atomic on the server. A hash per key (`fp`, `token`, `until`, `committed`,
 * `status`, `headers`, `body`) that expires with IDEMPOTENCY_TTL.
 */
const SCRIPTS = {
  // ARGV: fingerprint, token, leaseMs, ttlMs → {1} claimed, or {0, fp, committed, status, headers, body, leased}
  idemClaim: `${NOW}
    local r = redis.call('HMGET', KEYS[1], 'fp', 'until', 'committed', 'status', 'headers', 'body')
    if r[1] and (r[4] or r[3] or tonumber(r[2]) > now) then
      return {0, r[1], r[3] or '', r[4] or '', r[5] or '', r[6] or '', tonumber(r[2]) > now and 1 or 0}
    end
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'token', ARGV[2], 'until', tostring(now + tonumber(ARGV[3])))
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return {1}`,
  // ARGV: token, leaseMs
  idemRenew: `${NOW}
    if redis.call('HGET', KEYS[1], 'token') == ARGV[1] and not redis.call('HGET', KEYS[1], 'status') then
      redis.call('HSET', KEYS[1], 'until', tostring(now + tonumber(ARGV[2])))
    end
    return 1`,
  // ARGV: token → 1 when still ours
  idemCommit: `if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
    redis.call('HSET', KEYS[1], 'committed', '1')
    return 1`,
  // ARGV: token, status, headers (JSON), body (base64)
  idemComplete: `if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
      redis.call('HSET', KEYS[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
    end
    return 1`,
  // ARGV: token
  idemRelease: `${NOW}
    if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
    if redis.call('HGET', KEYS[1], 'committed') then
      redis.call('HSET', KEYS[1], 'until', tostring(now))
    else
      redis.call('DEL', KEYS[1])
    end
    return 1`,
} as const;

type Scripted = Record<keyof typeof SCRIPTS, (key: string, ...args: (string | number)[]) => Promise<unknown>>;

/**
 * Idempotency records in Redis (IDEMPOTENCY_STORE=redis, the default when REDIS_URL is set). Redis is not
 * part of the database transaction: `markCommitted` is a fenced compare-and-set run just before COMMIT, so a
 * taken-over claim still rolls its request back; a crash between that mark and the COMMIT leaves the key
 * "lost" (a retry is told so) rather than run twice. Redis must keep its data (AOF or RDB) for the
 * guarantee to outlive a Redis restart.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: IORedis.Redis & Scripted;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    // A request with a key waits at most about two seconds for Redis, then answers 503.
    const redis = new (ioredis().Redis)(url, {
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      lazyConnect: true,
    });
    redis.on('error', () => undefined); // reported through the failing commands
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      redis.defineCommand(name, { numberOfKeys: 1, lua });
    }
    this.redis = redis as IORedis.Redis & Scripted;
  }

  /** One Redis key per caller and key, of fixed length whatever the client sent. */
  private keyOf(ref: Pick<ClaimRef, 'scope' | 'key'>): string {
    const digest = createHash('sha256').update(`${ref.scope}\n${ref.key}`).digest('base64url');
    return `${this.prefix}:idempotency:${digest}`;
  }

  async claim(ref: ClaimRef, fingerprint: string, leaseMs: number, ttlSeconds: number): Promise<ClaimResult> {
    const reply = (await this.redis.idemClaim(
      this.keyOf(ref),
      fingerprint,
      ref.token,
      leaseMs,
      ttlSeconds * 1000,
    )) as [number, string?, string?, string?, string?, string?, number?];
    if (reply[0] === 1) {
      return { kind: 'claimed' };
    }
    const [, fp, committed, status, headers, body, leased] = reply;
    return verdict(
      {
        fingerprint: fp!,
        committed: committed === '1',
        leased: leased === 1,
        response: status
          ? {
              status: Number(status),
              headers: JSON.parse(headers!) as Record<string, string>,
              body: Buffer.from(body!, 'base64'),
            }
          : undefined,
      },
      fingerprint,
    );
  }

  async renew(ref: ClaimRef, leaseMs: number): Promise<void> {
    await this.redis.idemRenew(this.keyOf(ref), ref.token, leaseMs);
  }

  async markCommitted(ref: ClaimRef, _manager: EntityManager): Promise<boolean> {
    return (await this.redis.idemCommit(this.keyOf(ref), ref.token)) === 1;
  }

  async complete(ref: ClaimRef, response: StoredResponse): Promise<void> {
    await this.redis.idemComplete(
      this.keyOf(ref),
      ref.token,
      response.status,
      JSON.stringify(response.headers),
      response.body.toString('base64'),
    );
  }

  async release(ref: ClaimRef): Promise<void> {
    await this.redis.idemRelease(this.keyOf(ref), ref.token);
  }

  /** Redis expires the keys itself. */
  prune(): Promise<number> {
    return Promise.resolve(0);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
