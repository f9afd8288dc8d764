import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DataSource, EntitySubscriberInterface, TransactionCommitEvent } from 'typeorm';
import type { Principal } from 'src/framework/access/principal';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { ProblemException } from 'src/framework/http/problem';
import { DatabaseIdempotencyStore } from 'src/framework/idempotency/database-idempotency.store';
import {
  IDEMPOTENCY_PROBLEMS,
  IDEMPOTENT_REPLAYED_HEADER,
  callerScope,
  idempotencyKeyOf,
  keyInProgress,
  keyReused,
  requestFingerprint,
  responseLost,
} from 'src/framework/idempotency/idempotency-key';
import { ClaimRef, IdempotencyStore, StoredResponse } from 'src/framework/idempotency/idempotency.store';
import { RedisIdempotencyStore } from 'src/framework/idempotency/redis-idempotency.store';
import { STATEMENT_SAFE } from 'src/framework/database/statement-safe';

/** A running request's hold on its key; renewed while it runs, so only a dead process's claim lapses. */
const LEASE_MS = 15_000;
/** Expired records are deleted this often (database store; Redis expires its own). */
const PRUNE_EVERY_MS = 10 * 60_000;
/** What a retry that finds the first request still running is told to wait. */
const RETRY_AFTER_SECONDS = 1;
/** The response headers a replay repeats: those that describe the result, never per-request ones. */
const STORED_HEADERS = [
  'content-type',
  'location',
  'etag',
  'last-modified',
  'content-location',
  'content-language',
  'link',
];

const CLAIM = Symbol('nestor:idempotency-claim');
const REPLAY = Symbol('nestor:idempotency-replay');
const MARKED = 'nestorIdempotencyMarked';

type KeyedRequest = FastifyRequest & {
  principal?: Principal;
  [CLAIM]?: Claim;
  [REPLAY]?: StoredResponse;
};

/** One request running under a key. */
export class Claim implements ClaimRef {
  readonly token = randomUUID();
  /** A write transaction of this request committed with the key marked in it. */
  committed = false;
  /** The response was stored or the key released: later transactions in this context are not the request's. */
  settled = false;
  renewal?: NodeJS.Timeout;

  constructor(
    readonly scope: string,
    readonly key: string,
  ) {}
}

function unavailable(error: unknown): ProblemException {
  return new ProblemException(
    {
      type: IDEMPOTENCY_PROBLEMS.unavailable,
      title: 'Service Unavailable',
      status: 503,
      detail: `The Idempotency-Key store is unavailable right now (${(error as Error).message}). Retry shortly with the same key.`,
    },
    { 'retry-after': '5' },
  );
}

/**
 * Idempotency-Key for unsafe requests (draft-ietf-httpapi-idempotency-key-header): the first request with a
 * key runs and its response is stored; a retry gets that response without running again. See the README's
 * "Idempotent requests" for the guarantees. Routes opt in with `@Idempotent()`; generated resources'
 * create, update, delete and restore accept a key.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnApplicationShutdown, EntitySubscriberInterface {
  /** Marks keys in transactions: a one-statement write runs only outside a keyed request (activeClaim). */
  readonly [STATEMENT_SAFE] = true;

  private readonly logger = new Logger('Idempotency');
  private readonly context = new AsyncLocalStorage<Claim>();
  readonly store: IdempotencyStore;
  private pruner?: NodeJS.Timeout;

  constructor(
    private readonly config: NestorConfig,
    private readonly dataSource: DataSource,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.store =
      config.idempotency.store === 'redis'
        ? new RedisIdempotencyStore(config.redisUrl!, config.jobsPrefix)
        : new DatabaseIdempotencyStore(dataSource);
  }

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
    // Fastify applies hooks to every route when it gets ready, which comes after this (HTTP process only).
    const fastify = this.adapterHost?.httpAdapter?.getInstance<FastifyInstance>();
    fastify?.addHook('onSend', (request, reply, payload) => this.onSend(request, reply, payload));
    if (fastify && this.config.idempotency.store === 'database') {
      this.pruner = setInterval(() => {
        this.store.prune().catch((error: Error) => this.logger.warn(`Pruning keys failed: ${error.message}`));
      }, PRUNE_EVERY_MS);
      this.pruner.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.pruner);
    const index = this.dataSource.subscribers.indexOf(this);
    if (index >= 0) {
      this.dataSource.subscribers.splice(index, 1);
    }
    await this.store.close();
  }

  /**
   * Claims `key` for this request: returns the claim to run under, or undefined when the stored response is
   * replayed instead. Throws the draft's 422 (another request used the key) and 409 (still running).
   */
  async begin(request: KeyedRequest, key: string): Promise<Claim | undefined> {
    const claim = new Claim(callerScope(request.principal, request.ip), key);
    const fingerprint = requestFingerprint({
      method: request.method,
      url: request.url,
      ifMatch: request.headers['if-match'],
      body: request.body,
    });
    let result: Awaited<ReturnType<IdempotencyStore['claim']>>;
    try {
      result = await this.store.claim(claim, fingerprint, LEASE_MS, this.config.idempotency.ttlSeconds);
    } catch (error) {
      throw this.config.idempotency.store === 'redis' ? unavailable(error) : error;
    }
    switch (result.kind) {
      case 'claimed':
        request[CLAIM] = claim;
        claim.renewal = setInterval(() => {
          this.store
            .renew(claim, LEASE_MS)
            .catch((error: Error) => this.logger.warn(`Renewing an idempotency key: ${error.message}`));
        }, LEASE_MS / 3);
        claim.renewal.unref();
        return claim;
      case 'replay':
        request[REPLAY] = result.response;
        return undefined;
      case 'mismatch':
        throw keyReused();
      case 'in-progress':
        throw keyInProgress(RETRY_AFTER_SECONDS);
      case 'lost':
        throw responseLost();
    }
  }

  /**
   * Whether the code running now serves a request under an Idempotency-Key: its writes must be
   * transactions, which mark the key before their COMMIT. Example: `if (!idempotency.inKeyedRequest()) …`.
   */
  inKeyedRequest(): boolean {
    const claim = this.context.getStore();
    return claim !== undefined && !claim.settled;
  }

  /** Runs the request's handler with its claim in context, so its write transactions record the key. */
  run<T>(claim: Claim, handler: () => T): T {
    return this.context.run(claim, handler);
  }

  /**
   * What IdempotencyInterceptor does, called directly (the generated resources' unsafe routes are built
   * wrapped in it): without a key, runs `handler`; with one, claims it (begin) and runs `handler` under the claim,
   * or answers undefined when the stored response is replayed instead. A Nest interceptor builds an rxjs
   * pipeline for every request, key or not: about 16 µs of CPU per request in a Nest 12 microbenchmark.
   * Example: `return idempotency.runKeyed(request, () => service.create(body, principal))`.
   */
  async runKeyed<T>(request: KeyedRequest, handler: () => Promise<T>): Promise<T | undefined> {
    const key = idempotencyKeyOf(request.raw.rawHeaders);
    if (key === undefined) {
      return handler();
    }
    const claim = await this.begin(request, key);
    return claim ? this.run(claim, handler) : undefined;
  }

  /**
   * TypeORM, before each COMMIT: a top-level transaction of a keyed request marks the key committed in
   * that same transaction. If the claim is no longer this request's, the transaction rolls back.
   */
  async beforeTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const claim = this.context.getStore();
    const depth = (event.queryRunner as unknown as { transactionDepth?: number }).transactionDepth ?? 1;
    if (!claim || claim.settled || depth > 1) {
      return;
    }
    if (!(await this.store.markCommitted(claim, event.manager))) {
      throw new ProblemException({
        type: IDEMPOTENCY_PROBLEMS.inProgress,
        title: 'A request is outstanding for this Idempotency-Key',
        status: 409,
        detail: 'A retry with this Idempotency-Key took over while this request ran; nothing was changed.',
      });
    }
    (event.queryRunner.data as Record<string, unknown>)[MARKED] = claim;
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const data = event.queryRunner.data as Record<string, unknown>;
    const claim = data[MARKED] as Claim | undefined;
    if (claim && !event.queryRunner.isTransactionActive) {
      claim.committed = true;
      delete data[MARKED];
    }
  }

  afterTransactionRollback(event: TransactionCommitEvent): void {
    delete (event.queryRunner.data as Record<string, unknown>)[MARKED];
  }

  /**
   * Fastify, before a response leaves: a replay becomes the stored response; a claimed request's response
   * is stored (2xx/3xx, and any status once something committed) or its key released (a 4xx that changed
   * nothing, every 5xx), before the client can see it.
   */
  private async onSend(request: KeyedRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const replay = request[REPLAY];
    if (replay) {
      void reply.code(replay.status).headers(replay.headers).header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return replay.body;
    }
    const claim = request[CLAIM];
    if (!claim || claim.settled) {
      return payload;
    }
    claim.settled = true;
    clearInterval(claim.renewal);
    const status = reply.statusCode;
    const body = bytes(payload);
    try {
      if (body && (status < 400 || (status < 500 && claim.committed))) {
        await this.store.complete(claim, { status, headers: storedHeaders(reply), body });
      } else {
        await this.store.release(claim);
      }
    } catch (error) {
      // The response still goes out; the key's lease lapses, and a retry learns what happened from it.
      this.logger.warn(`Could not store the response of an idempotent request: ${(error as Error).message}`);
    }
    return payload;
  }
}

function storedHeaders(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
  }
  return headers;
}

/** The body as bytes; undefined for a stream, which is not kept (its key is released instead). */
function bytes(payload: unknown): Buffer | undefined {
  if (payload === undefined || payload === null) {
    return Buffer.alloc(0);
  }
  if (typeof payload === 'string') {
    return Buffer.from(payload);
  }
  return Buffer.isBuffer(payload) ? payload : undefined;
}
