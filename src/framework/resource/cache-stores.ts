import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type * as IORedis from 'ioredis';
import { LRUCache } from 'lru-cache';
import { lazyModule } from 'src/framework/lazy-module';

const ioredis = lazyModule<typeof IORedis>('ioredis');

/** Most answers the in-process store keeps (least recently used go first). */
const MEMORY_MAX_ENTRIES = 10_000;

/**
 * Where answers and version stamps live. A stamp is an opaque token per resource that every write replaces;
 * an answer is stored under the stamps read before its query, so a write makes every older answer
 * unreachable, in every process at once, without finding or deleting it.
 */
export interface CacheStore {
  /** The current stamps (joined) and the answer stored under `key` + those stamps, in one round trip. */
  lookup(stamps: string[], key: string): Promise<{ versions: string; value: string | undefined }>;
  save(key: string, versions: string, value: string, ttlSeconds: number): Promise<void>;
  /** The current stamps (joined), setting a fresh one where there is none, in one round trip mostly. */
  current(stamps: string[]): Promise<string>;
  /** Replaces the stamps: answers stored under the old ones are never read again. */
  bump(stamps: string[]): Promise<void>;
  /** Calls `listener` whenever the store (re)connects: pending invalidations go out then. */
  onReady(listener: () => void): void;
  close(): Promise<void>;
}

/** Random bytes drawn at a time for stamps (9 each): one call into OpenSSL per 128 stamps, not per stamp. */
const STAMP_BYTES = 9;
let stampPool = Buffer.alloc(0);
let stampOffset = 0;

/**
 * A fresh stamp: random, so a stamp lost to eviction or a restart can never come back with old answers.
 * Drawn from a pool, as Node does for randomUUID: `randomBytes(9)` on every write cost about 17 µs of a
 * create's CPU in `npm run bench`.
 */
export function freshStamp(): string {
  if (stampOffset + STAMP_BYTES > stampPool.length) {
    stampPool = randomBytes(STAMP_BYTES * 128);
    stampOffset = 0;
  }
  stampOffset += STAMP_BYTES;
  return stampPool.toString('base64url', stampOffset - STAMP_BYTES, stampOffset);
}

/**
 * Reads the stamps (setting a fresh one where Redis has none, e.g. after eviction) and the answer stored
 * under them: one script, one round trip per cached request.
 */
const LOOKUP = `local vs = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    redis.call('SET', k, ARGV[2], 'NX')
    v = redis.call('GET', k)
  end
  vs[i] = v
end
local versions = table.concat(vs, '.')
return {versions, redis.call('GET', ARGV[1] .. '|' .. versions)}`;

/**
 * Sets a stamp and publishes its new value in one atomic step: subscribers then see the values in the order
 * the key takes them, and a GET never returns a value whose message is still to come.
 */
const BUMP_AND_PUBLISH = `redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1`;

type ScriptedRedis = IORedis.Redis & {
  cacheLookup(...args: (string | number)[]): Promise<[string, string | null]>;
  bumpAndPublish(key: string, value: string, channel: string): Promise<number>;
};

/**
 * Redis through ioredis directly (already a dependency): a cached read needs the stamps and the answer in
 * one round trip, which a Lua script gives and a key-value facade (cache-manager, Keyv) does not.
 */
export class RedisCacheStore implements CacheStore {
  private readonly redis: ScriptedRedis;
  /**
   * Why Redis counts as out of reach: a connection error (until ioredis, reconnecting in the background,
   * is ready again) or a command timeout (for a second). Meanwhile commands fail at once instead of
   * queueing: an invalidation may run at COMMIT, and waiting there would hold the database connection.
   */
  private unreachable?: Error;
  private unreachableUntil = Infinity;
  private readonly readyListeners: (() => void)[] = [];

  constructor(url: string) {
    // A cached read waits at most about two seconds for Redis, then reads the database instead.
    const redis = new (ioredis().Redis)(url, {
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      commandTimeout: 2_000,
      lazyConnect: true,
    });
    redis.on('error', (error: Error) => this.outOfReach(error)); // reported by the next commands
    redis.on('ready', () => {
      this.unreachable = undefined;
      this.readyListeners.forEach((listener) => listener());
    });
    redis.defineCommand('cacheLookup', { lua: LOOKUP });
    redis.defineCommand('bumpAndPublish', { lua: BUMP_AND_PUBLISH, numberOfKeys: 1 });
    this.redis = redis as ScriptedRedis;
  }

  async lookup(stamps: string[], key: string): Promise<{ versions: string; value: string | undefined }> {
    const [versions, value] = await this.run((redis) =>
      redis.cacheLookup(stamps.length, ...stamps, key, freshStamp()),
    );
    return { versions, value: value ?? undefined };
  }

  async save(key: string, versions: string, value: string, ttlSeconds: number): Promise<void> {
    await this.run((redis) => redis.set(`${key}|${versions}`, value, 'EX', ttlSeconds));
  }

  async current(stamps: string[]): Promise<string> {
    const found = await this.run((redis) => redis.mget(...stamps));
    if (found.every((stamp) => stamp !== null)) {
      return found.join('.');
    }
    // Missing (evicted, or never set): set a fresh stamp unless another process just did, then read it.
    return (await this.lookup(stamps, '')).versions;
  }

  async bump(stamps: string[]): Promise<void> {
    await this.run<unknown>((redis) => {
      if (stamps.length === 1) {
        return redis.set(stamps[0], freshStamp()); // atomic alone: MULTI/EXEC would add two commands to a write
      }
      const multi = redis.multi();
      for (const stamp of stamps) {
        multi.set(stamp, freshStamp());
      }
      return multi.exec();
    });
  }

  /** Sets `stamp` to `value` and publishes `value` on `channel`, atomically (see BUMP_AND_PUBLISH). */
  async bumpAndPublish(stamp: string, value: string, channel: string): Promise<void> {
    await this.run((redis) => redis.bumpAndPublish(stamp, value, channel));
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.redis.status !== 'wait' && this.redis.status !== 'end') {
      await this.redis.quit().catch(() => undefined);
    }
  }

  private async run<T>(command: (redis: ScriptedRedis) => Promise<T>): Promise<T> {
    if (this.unreachable && Date.now() < this.unreachableUntil) {
      throw new Error(`Redis unreachable: ${this.unreachable.message}`);
    }
    try {
      return await command(this.redis);
    } catch (error) {
      if ((error as Error).message.includes('timed out')) {
        this.outOfReach(error as Error, 1_000);
      }
      throw error;
    }
  }

  private outOfReach(error: Error, forMs = Infinity): void {
    this.unreachable = error;
    this.unreachableUntil = Date.now() + forMs;
  }
}

/** The embedded default: one process, so stamps are counters in memory and answers sit in an LRU. */
export class MemoryCacheStore implements CacheStore {
  private readonly stamps = new Map<string, number>();
  private readonly entries = new LRUCache<string, string>({ max: MEMORY_MAX_ENTRIES, ttlAutopurge: false });

  lookup(stamps: string[], key: string): Promise<{ versions: string; value: string | undefined }> {
    const versions = stamps.map((stamp) => this.stamps.get(stamp) ?? 0).join('.');
    return Promise.resolve({ versions, value: this.entries.get(`${key}|${versions}`) });
  }

  save(key: string, versions: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.set(`${key}|${versions}`, value, { ttl: ttlSeconds * 1000 });
    return Promise.resolve();
  }

  current(stamps: string[]): Promise<string> {
    return Promise.resolve(stamps.map((stamp) => this.stamps.get(stamp) ?? 0).join('.'));
  }

  bump(stamps: string[]): Promise<void> {
    for (const stamp of stamps) {
      this.stamps.set(stamp, (this.stamps.get(stamp) ?? 0) + 1);
    }
    return Promise.resolve();
  }

  onReady(): void {
    // Always reachable: a bump never fails, so nothing is ever pending.
  }

  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}

/** How often invalidations that did not reach Redis are sent again, until Redis takes them. */
export const RESEND_MS = 1_000;

/**
 * Invalidations (stamp keys) that failed after their write had committed: Redis out of reach or refusing
 * writes (a failover's read-only replica). Processes sharing Redis keep serving answers from before the write
 * until a new stamp reaches it, so they are sent again every RESEND_MS, and at once when `flush` is called (the
 * store reconnected), until Redis takes them; meanwhile the process that knows reads the database for them
 * (`has`). Each key is held once, so memory is bounded by the stamps there are (one per cached resource).
 * Example: `await pending.send([stamp], () => store.bump([stamp]))`.
 */
export class PendingInvalidations {
  /** Key → sequence number of its latest failure. */
  private readonly keys = new Map<string, number>();
  private sequence = 0;
  /** When the oldest pending invalidation failed (for the log once it lands). */
  private since = 0;
  private timer?: NodeJS.Timeout;
  private resending?: Promise<void>;
  private closed = false;

  /** `resend` sends the invalidation of several keys (all pending) again. `label` names the cache in logs. */
  constructor(
    private readonly resend: (keys: string[]) => Promise<void>,
    private readonly logger: Logger,
    private readonly label: string,
    private readonly intervalMs = RESEND_MS,
  ) {}

  /** Whether an invalidation of `key` has not reached Redis yet. */
  has(key: string): boolean {
    return this.keys.has(key);
  }

  get size(): number {
    return this.keys.size;
  }

  /**
   * Runs `send`, an invalidation of `keys`, and rethrows its error with the keys kept pending. Success takes
   * them off, except those that failed again after `send` began: it may have reached Redis before that later
   * write committed, so only a send begun after it covers it.
   */
  async send<T>(keys: string[], send: () => Promise<T>): Promise<T> {
    const began = this.sequence;
    let result: T;
    try {
      result = await send();
    } catch (error) {
      this.failed(keys);
      throw error;
    }
    this.settle(keys, began);
    return result;
  }

  /** Sends every pending key again now (one attempt at a time); never rejects. */
  flush(): Promise<void> {
    if (this.keys.size === 0) {
      return Promise.resolve();
    }
    this.resending ??= this.resendAll().finally(() => (this.resending = undefined));
    return this.resending;
  }

  /**
   * Shutdown: one last attempt, then no more. What is still pending is logged: processes sharing Redis may
   * answer from before those writes until their answers' ttl ends.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.resending;
    await this.flush();
    if (this.keys.size > 0) {
      this.logger.error(
        `${this.label}: invalidation of ${[...this.keys.keys()].join(', ')} not sent before shutdown; other processes may serve what was cached before it until its ttl ends`,
      );
    }
  }

  private async resendAll(): Promise<void> {
    const keys = [...this.keys.keys()];
    try {
      await this.send(keys, () => this.resend(keys));
    } catch {
      return; // still out of reach: the next tick tries again
    }
    if (this.keys.size === 0) {
      const late = Math.round((Date.now() - this.since) / 1000);
      this.logger.log(`${this.label}: invalidation of ${keys.join(', ')} sent ${late} s late`);
    }
  }

  private failed(keys: string[]): void {
    if (this.keys.size === 0) {
      this.since = Date.now();
    }
    const sequence = ++this.sequence;
    for (const key of keys) {
      this.keys.set(key, sequence);
    }
    if (!this.timer && !this.closed) {
      this.timer = setInterval(() => void this.flush(), this.intervalMs);
      this.timer.unref(); // never keeps a process alive: close() makes the last attempt
    }
  }

  private settle(keys: string[], began: number): void {
    for (const key of keys) {
      const failed = this.keys.get(key);
      if (failed !== undefined && failed <= began) {
        this.keys.delete(key);
      }
    }
    if (this.keys.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
