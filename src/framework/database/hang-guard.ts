import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client, Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { serverPool } from 'src/framework/database/data-source-options';

/** A query without an answer for this long makes the guard check that the server is alive. */
export const PROBE_AFTER_MS = 1_500;
/** The liveness probe (a fresh connection and `SELECT 1`) must answer within this. */
export const PROBE_TIMEOUT_MS = 1_500;
const CHECK_EVERY_MS = 250;

type GuardedClient = PoolClient & {
  /** pg 8.x internals (the public `activeQuery` getter is deprecated and warns). */
  _getActiveQuery?: () => object | null | undefined;
  _activeQuery?: object | null;
  /** pg 8.x: set from `connect()` until the server is ready for queries. */
  _connecting?: boolean;
  _connected?: boolean;
  connection?: { stream?: { destroy(error?: Error): void } };
};

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * pg-pool 3.x internals: every client it opened, idle or checked out (stable since pg-pool 2), and the
 * callbacks of `connect()` calls waiting for a free connection. missingInternals checks they are there.
 */
type GuardedPool = Pool & {
  _clients?: GuardedClient[];
  _pendingQueue?: { callback: (error: Error) => void }[];
};

/**
 * Fails every request waiting for one of the pool's connections, as pg-pool fails them on its own timeout
 * (their timers are cleared by the callback); "Connection terminated" is what the problem filter answers
 * 503 for. Returns how many there were.
 */
function failQueued(pool: Pool): number {
  const queue = (pool as GuardedPool)._pendingQueue ?? [];
  const waiting = queue.splice(0, queue.length);
  for (const item of waiting) {
    item.callback(new Error('Connection terminated: the database server did not answer'));
  }
  return waiting.length;
}

/**
 * The pg and pg-pool internals the guard reads that `pool` (or a client built with its options, never
 * connected) lacks: empty for the pg 8 / pg-pool 3 it was written for. A pg that renamed them would leave
 * the guard blind, so `watch` says so at boot rather than let a hung server hold requests without a word.
 * Example: `missingInternals(new Pool())` → `[]`.
 */
export function missingInternals(pool: Pool): string[] {
  const missing: string[] = [];
  const internals = pool as GuardedPool;
  if (!Array.isArray(internals._clients)) {
    missing.push('Pool._clients');
  }
  if (!Array.isArray(internals._pendingQueue)) {
    missing.push('Pool._pendingQueue');
  }
  const client = new Client(pool.options) as GuardedClient;
  if (typeof client._connecting !== 'boolean' || typeof client._connected !== 'boolean') {
    missing.push('Client._connecting');
  }
  if (typeof client._getActiveQuery !== 'function' && !('_activeQuery' in client)) {
    missing.push('Client._getActiveQuery');
  }
  if (typeof client.connection?.stream?.destroy !== 'function') {
    missing.push('Client.connection.stream');
  }
  return missing;
}

/**
 * What a client is waiting on: its running query, or the client itself while its connection is being opened
 * (a new connection to a hung server waits for the server's greeting forever: pg has no default deadline).
 */
function waitingOn(client: GuardedClient): object | null | undefined {
  if (client._connecting && !client._connected) {
    return client;
  }
  return client._getActiveQuery ? client._getActiveQuery() : client._activeQuery;
}

/**
 * A PostgreSQL server that stops answering (SIGSTOPped, a network partition, a frozen VM) leaves queries
 * waiting forever on connections that still look open: pg has no deadline and TCP keeps the socket. When a
 * query (or a new connection) has had no answer for PROBE_AFTER_MS, the guard opens a fresh connection and
 * runs `SELECT 1` with a short deadline; if that gets no answer either, the server is hung, and the guard
 * closes the waiting connections and fails the requests queued for one: their queries fail at once (503
 * problem+json), the server rolls back their transactions when it wakes, and the pool opens new
 * connections. A slow query on a live server is left alone, also when the server refuses the probe (too
 * many connections: it answered). Nothing to configure: it runs whenever the database is a PostgreSQL
 * server. It watches TypeORM's pool, and any other `pg` pool the framework opens (bullmq's PostgreSQL
 * backend) registers itself with `watch`.
 * Example: `const unwatch = guard.watch(new Pool({ connectionString })); … unwatch()`.
 */
@Injectable()
export class DatabaseHangGuard implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  /** When each running query was first seen: queries are objects, so a finished one drops out. */
  private readonly seen = new WeakMap<object, number>();
  private timer?: NodeJS.Timeout;
  private readonly pools = new Set<Pool>();
  /** Pools whose server is being probed right now: one probe per pool at a time. */
  private readonly probing = new Set<Pool>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    const pool = serverPool(this.dataSource);
    if (pool) {
      this.watch(pool);
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.pools.clear();
  }

  /**
   * Guards one more `pg` pool against a hung server (its own probe uses the pool's connection options).
   * Returns a function that stops watching it, for a pool about to end.
   */
  watch(pool: Pool): () => void {
    const missing = missingInternals(pool);
    if (missing.length > 0) {
      // Still watched: each read falls back to nothing, so what is left of the guard still works.
      this.logger.error(
        `The hang guard reads pg internals the installed pg lacks (${missing.join(', ')}): requests to a ` +
          'database server that stops answering may wait until it answers. Nestor supports pg 8 and pg-pool 3.',
      );
    }
    this.pools.add(pool);
    if (!this.timer) {
      this.timer = setInterval(() => {
        for (const watched of this.pools) {
          void this.check(watched);
        }
      }, CHECK_EVERY_MS);
      this.timer.unref();
    }
    return () => void this.pools.delete(pool);
  }

  private async check(pool: Pool): Promise<void> {
    if (this.probing.has(pool)) {
      return;
    }
    const now = Date.now();
    const clients = (pool as GuardedPool)._clients ?? [];
    // Every client waiting now, whatever for how long: if the probe then fails, none was answered through
    // the whole probe window either (one that came due during a probe would otherwise wait one more).
    const waiting = new Map<GuardedClient, object>();
    let due = false;
    for (const client of clients) {
      const query = waitingOn(client);
      if (query) {
        const since = this.seen.get(query) ?? now;
        this.seen.set(query, since);
        waiting.set(client, query);
        due ||= now - since >= PROBE_AFTER_MS;
      }
    }
    if (!due) {
      return;
    }
    this.probing.add(pool);
    try {
      if (await this.alive(pool)) {
        return;
      }
      // Only those still waiting on the same query: an answer that came in during the probe (a loaded
      // machine, not a hung server) is not cut short.
      const stuck = [...waiting].filter(([client, query]) => waitingOn(client) === query);
      if (stuck.length === 0) {
        return;
      }
      // Requests queued for a connection would each get a new one to the hung server and wait a probe
      // window more: they fail now, with the waiting ones, before the pool hands them a connection.
      const queued = failQueued(pool);
      this.logger.error(
        `The database did not answer a fresh connection within ${PROBE_TIMEOUT_MS} ms: closing ` +
          `${stuck.length} connection(s) waiting on it` +
          (queued > 0 ? ` and failing ${queued} request(s) queued for a connection` : ''),
      );
      for (const [client] of stuck) {
        // pg then fails the pending and queued queries ("Connection terminated"), and the pool drops the client.
        client.connection?.stream?.destroy();
      }
    } finally {
      this.probing.delete(pool);
    }
  }

  private async alive(pool: Pool): Promise<boolean> {
    const probe = new Client({
      ...pool.options,
      connectionTimeoutMillis: PROBE_TIMEOUT_MS,
      query_timeout: PROBE_TIMEOUT_MS,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      return true;
    } catch (error) {
      // A refusal the server sent (too many connections, starting up, …) carries a SQLSTATE: it answered.
      return (
        typeof (error as { code?: unknown }).code === 'string' &&
        SQLSTATE.test((error as { code: string }).code)
      );
    } finally {
      // Not awaited: ending a connection to a hung server would wait for it too.
      void probe.end().catch(() => undefined);
    }
  }
}
