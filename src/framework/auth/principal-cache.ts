import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import {
  DataSource,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import type { AfterQueryEvent } from 'typeorm/subscriber/event/QueryEvent.js';
import { Principal, loadPrincipal } from 'src/framework/access/principal';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { STATEMENT_SAFE, WATCHES_STATEMENTS } from 'src/framework/database/statement-safe';
import { ECHO_TIMEOUT_MS, PrincipalStampFeed } from 'src/framework/auth/principal-stamp-feed';
import {
  PendingInvalidations,
  RESEND_MS,
  RedisCacheStore,
  freshStamp,
} from 'src/framework/resource/cache-stores';

/** Principals kept per process (least recently used go first). */
const MAX_ENTRIES = 10_000;
/**
 * How long a cached principal is trusted at most: bounds what a change made outside Nestor's data source
 * (psql, another program) leaves cached. Every change made through Nestor invalidates at once.
 */
const TTL_MS = 60_000;

/** A write to a table a principal is read from (loadPrincipal): users, groups, permissions, sessions. */
const WRITE =
  /\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?(?:"?[A-Za-z_][\w$]*"?\.)?"?(user|user_groups|user_permissions|auth_group|group_permissions|permission|refresh_token)"?(?=[\s(,;]|$)/gi;
/** A refresh token's write matters only when it revokes (or deletes) a session. */
const REVOKES = /\bSET\b[\s\S]*"?revokedAt"?\s*=|\bDELETE\b|\bTRUNCATE\b/i;

/**
 * Whether a statement may change what loadPrincipal reads: a write to the user, group or permission
 * tables, or one that revokes or deletes refresh tokens. Example: `writesPrincipals('UPDATE "user" SET …')`.
 */
export function writesPrincipals(sql: string): boolean {
  const first = sql.trimStart().charCodeAt(0) | 0x20; // i, u, d, t, w (WITH … UPDATE)
  if (first !== 105 && first !== 117 && first !== 100 && first !== 116 && first !== 119) {
    return false;
  }
  for (const match of sql.matchAll(WRITE)) {
    if (match[1].toLowerCase() !== 'refresh_token' || REVOKES.test(sql)) {
      return true;
    }
  }
  return false;
}

/**
 * The JWT path's principals (user, flags, permissions), cached per user and session under a version stamp
 * (REDIS_URL). Every write to the tables they are read from — through any repository, query builder or raw
 * query of Nestor's data source, in any process — replaces the stamp once it has committed: one Lua call
 * sets the stamp key and publishes the new value on `<JOBS_PREFIX>:principals`, and the writer's call
 * returns only once its own subscriber has the message back (at most ECHO_TIMEOUT_MS): Redis writes a
 * PUBLISH to every subscriber in the same pass, so every process has it on its socket by then, and a
 * deactivation, a revoked session or a removed permission counts on the very next request in every process.
 * Each process keeps the stamp in memory from its subscription (PrincipalStampFeed), so a cached request
 * costs no Redis round trip; while the subscription is not confirmed (booting, reconnecting) each request
 * reads the stamp key (one GET), and the database if Redis is out of reach. A writer that cannot reach Redis
 * sends its new stamp again every RESEND_MS (and on reconnecting) until Redis takes it, reading principals
 * from the database meanwhile (PendingInvalidations). Without Redis there is no shared
 * stamp that a `nestor` command or another process could replace, so every request reads the database.
 * Example: `const principal = await principals.load(userId, family)`.
 */
@Injectable()
export class PrincipalCache implements EntitySubscriberInterface, OnModuleInit, OnModuleDestroy {
  /**
   * Sees every statement through TypeORM's query runner (afterQuery), one-statement writes included: those
   * to its tables never bypass the runner (WATCHES_STATEMENTS).
   */
  readonly [STATEMENT_SAFE] = true;
  /** Its afterQuery acts on writes to the principal tables only: other statements may bypass the runner. */
  readonly [WATCHES_STATEMENTS] = writesPrincipals;
  private readonly logger = new Logger('PrincipalCache');
  private readonly store?: RedisCacheStore;
  private readonly feed?: PrincipalStampFeed;
  private readonly forgetFeed?: () => void;
  private readonly stamp: string;
  private readonly entries = new LRUCache<string, { stamp: string; principal: Principal }>({
    max: MAX_ENTRIES,
    ttl: TTL_MS,
  });
  /** Open transactions that wrote principal tables: the stamp is replaced when they commit. */
  private readonly dirty = new WeakSet<QueryRunner>();
  /** An invalidation that did not reach Redis, sent again until one does. */
  private readonly unsent?: PendingInvalidations;

  constructor(
    config: NestorConfig,
    private readonly dataSource: DataSource,
  ) {
    this.stamp = `${config.jobsPrefix}:principals:v`;
    if (config.redisUrl) {
      this.store = new RedisCacheStore(config.redisUrl);
      this.feed = PrincipalStampFeed.acquire(config.redisUrl, `${config.jobsPrefix}:principals`);
      this.forgetFeed = this.feed.onReset(() => this.entries.clear());
      const { store, feed } = this;
      this.unsent = new PendingInvalidations(
        () => store.bumpAndPublish(this.stamp, freshStamp(), feed.channel),
        this.logger,
        'Principal cache',
      );
      store.onReady(() => void this.unsent?.flush());
    }
  }

  /** Whether loads compare with the stamp kept in memory (subscribed) rather than reading Redis. */
  get subscribed(): boolean {
    return this.feed?.live ?? false;
  }

  /** The active user's principal for a JWT (`family`: its session), or undefined (see loadPrincipal). */
  async load(userId: number, family: string | undefined): Promise<Principal | undefined> {
    // Unsent invalidation: a principal cached from before it could still be stored under the current stamp.
    if (!this.store || this.unsent?.has(this.stamp)) {
      return loadPrincipal(this.dataSource, userId, 'jwt', family);
    }
    let stamp = this.feed?.stamp();
    if (stamp === undefined) {
      try {
        stamp = await this.store.current([this.stamp]);
      } catch (error) {
        this.logger.warn(`Principal stamp unavailable, reading the database: ${(error as Error).message}`);
        return loadPrincipal(this.dataSource, userId, 'jwt', family);
      }
    }
    const key = `${userId}|${family ?? ''}`;
    const entry = this.entries.get(key);
    if (entry?.stamp === stamp) {
      return entry.principal;
    }
    // Stored under the stamp read before the query: a change committing meanwhile makes it stale at once.
    const principal = await loadPrincipal(this.dataSource, userId, 'jwt', family);
    if (principal) {
      this.entries.set(key, { stamp, principal });
    } else {
      this.entries.delete(key);
    }
    return principal;
  }

  /** Replaces the stamp: every process reads principals from the database again. */
  async invalidate(): Promise<void> {
    this.entries.clear();
    if (!this.store || !this.feed) {
      return;
    }
    const value = freshStamp();
    const echo = this.feed.expect(value);
    try {
      await this.unsent!.send([this.stamp], () =>
        this.store!.bumpAndPublish(this.stamp, value, this.feed!.channel),
      );
    } catch (error) {
      echo.cancel();
      // Committed already: the processes that still reach Redis keep their principals until this process
      // reaches it again (a network split, a failover) or TTL_MS at most.
      this.logger.error(
        `Principal cache invalidation failed: ${(error as Error).message}. Sending it again every ${RESEND_MS} ms until Redis takes it.`,
      );
      return;
    }
    if (!(await echo.arrived)) {
      // Published, but our subscription did not hear it: it may miss others too, so it starts again.
      this.logger.warn(`No echo of a principal stamp within ${ECHO_TIMEOUT_MS} ms: resubscribing`);
      this.feed.reconnect();
    }
  }

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
  }

  async onModuleDestroy(): Promise<void> {
    const index = this.dataSource.subscribers.indexOf(this);
    if (index >= 0) {
      this.dataSource.subscribers.splice(index, 1);
    }
    await this.unsent?.close();
    this.forgetFeed?.();
    this.feed?.release();
    await this.store?.close();
  }

  /** TypeORM awaits this before the statement's caller continues. */
  async afterQuery(event: AfterQueryEvent): Promise<void> {
    if (!event.success || !writesPrincipals(event.query)) {
      return;
    }
    if (event.queryRunner?.isTransactionActive) {
      this.dirty.add(event.queryRunner);
      return;
    }
    await this.invalidate();
  }

  async afterTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    if (!event.queryRunner.isTransactionActive && this.dirty.delete(event.queryRunner)) {
      await this.invalidate();
    }
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) {
      this.dirty.delete(event.queryRunner);
    }
  }
}
