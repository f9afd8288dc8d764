import { Logger } from '@nestjs/common';
import type * as IORedis from 'ioredis';
import { lazyModule } from 'src/framework/lazy-module';
import { freshStamp } from 'src/framework/resource/cache-stores';

const ioredis = lazyModule<typeof IORedis>('ioredis');

/** How long an invalidation waits for its own message to come back through the subscription. */
export const ECHO_TIMEOUT_MS = 250;

/** An invalidation's wait for its message: `arrived` is false when it did not come back in time. */
export interface Echo {
  arrived: Promise<boolean>;
  cancel(): void;
}

/**
 * The principal stamp as this process heard it last on Redis pub/sub: one subscriber connection per process
 * (per Redis URL and channel, shared by the PrincipalCache of every app in it), opened by the first load.
 * The stamp is known only while the subscription is confirmed; otherwise `stamp()` is undefined and the
 * caller reads the stamp key. Each change of trust (subscribed, or lost) takes a stamp never used before
 * and calls the resets, so nothing cached before a gap in the messages is used after it.
 * Example: `const feed = PrincipalStampFeed.acquire(url, 'nestor:principals'); feed.stamp()`.
 */
export class PrincipalStampFeed {
  private static readonly feeds = new Map<string, PrincipalStampFeed>();
  private readonly logger = new Logger('PrincipalCache');
  private readonly resets = new Set<() => void>();
  private readonly echoes = new Map<string, () => void>();
  private redis?: IORedis.Redis;
  private current?: string;
  private users = 0;
  private closed = false;

  private constructor(
    private readonly url: string,
    readonly channel: string,
  ) {}

  /** The process's feed for this Redis and channel; give it back with `release()`. */
  static acquire(url: string, channel: string): PrincipalStampFeed {
    const id = `${url} ${channel}`;
    let feed = PrincipalStampFeed.feeds.get(id);
    if (!feed) {
      feed = new PrincipalStampFeed(url, channel);
      PrincipalStampFeed.feeds.set(id, feed);
    }
    feed.users++;
    return feed;
  }

  /** The last user closes the connection: `disconnect`, not QUIT, which would wait for a Redis that is away. */
  release(): void {
    if (--this.users > 0) {
      return;
    }
    PrincipalStampFeed.feeds.delete(`${this.url} ${this.channel}`);
    this.closed = true;
    this.redis?.disconnect();
    this.redis = undefined;
    this.lost();
  }

  /** Whether the subscription is confirmed (the stamp is kept in memory). */
  get live(): boolean {
    return this.current !== undefined;
  }

  /** The stamp kept in memory, or undefined while not subscribed. The first call opens the subscription. */
  stamp(): string | undefined {
    if (!this.redis && !this.closed) {
      this.connect();
    }
    return this.current;
  }

  /** Calls `reset` when the stamp starts or stops being trusted; returns the unregistering function. */
  onReset(reset: () => void): () => void {
    this.resets.add(reset);
    return () => this.resets.delete(reset);
  }

  /**
   * Before publishing `value`: the stamp changes at once (loads of this process still in flight, which
   * may have read the database before the change, cannot be cached under it), and the echo is awaited.
   */
  expect(value: string): Echo {
    if (this.current === undefined) {
      return { arrived: Promise.resolve(true), cancel: () => undefined };
    }
    this.current = freshStamp();
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.echoes.delete(value);
        resolve(false);
      }, ECHO_TIMEOUT_MS);
      this.echoes.set(value, () => {
        this.echoes.delete(value);
        clearTimeout(timer);
        resolve(true);
      });
    });
    return { arrived, cancel: () => this.echoes.get(value)?.() };
  }

  /** A subscription that lost a message: drop it and subscribe again (meanwhile callers read Redis). */
  reconnect(): void {
    this.redis?.disconnect(true);
  }

  private connect(): void {
    const redis = new (ioredis().Redis)(this.url, {
      connectionName: this.channel,
      connectTimeout: 2_000,
      autoResubscribe: false, // subscribe() on each 'ready' instead: its reply says when messages flow
      autoResendUnfulfilledCommands: false,
    });
    redis.on('ready', () => void this.subscribe(redis));
    redis.on('message', (_channel: string, value: string) => this.received(value));
    // A broken connection ends in 'close' (ioredis then reconnects); 'error' alone changes nothing here.
    redis.on('close', () => this.lost());
    redis.on('error', () => undefined);
    this.redis = redis;
  }

  private async subscribe(redis: IORedis.Redis): Promise<void> {
    try {
      await redis.subscribe(this.channel);
    } catch {
      return; // the connection closed: 'close', then 'ready' again
    }
    if (redis === this.redis && redis.status === 'ready' && this.current === undefined) {
      // Changes committed while unsubscribed were read by no load from now on: a new stamp, no entries.
      this.current = freshStamp();
      this.resets.forEach((reset) => reset());
      this.logger.log(`Subscribed to ${this.channel}: principal stamps kept in memory`);
    }
  }

  private received(value: string): void {
    if (this.current !== undefined) {
      this.current = value;
    }
    this.echoes.get(value)?.();
  }

  private lost(): void {
    if (this.current === undefined) {
      return;
    }
    this.current = undefined;
    this.resets.forEach((reset) => reset());
    // An invalidation waiting for its echo has its PUBLISH answered: it need not wait for a reconnect.
    [...this.echoes.values()].forEach((echo) => echo());
    if (!this.closed) {
      this.logger.warn(`Lost ${this.channel}: reading the principal stamp from Redis until subscribed again`);
    }
  }
}
