import { createHash } from 'node:crypto';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit, Type } from '@nestjs/common';
import {
  DataSource,
  EntityManager,
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  QueryRunner,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  UpdateEvent,
} from 'typeorm';
import { Counter } from 'prom-client';
import {
  CacheStore,
  MemoryCacheStore,
  PendingInvalidations,
  RESEND_MS,
  RedisCacheStore,
} from 'src/framework/resource/cache-stores';
import { Principal, can } from 'src/framework/access/principal';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { MetricsService } from 'src/framework/metrics/metrics.service';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { STATEMENT_SAFE } from 'src/framework/database/statement-safe';

/**
 * The cache of get-by-id and list answers of resources declared with `cache: { ttl }`: Redis when
 * REDIS_URL is set (shared by every process), else an in-process LRU. Writes through `ResourceService` and
 * admin actions invalidate it after COMMIT, and so does any TypeORM entity write (repositories, query
 * builders, factories: a subscriber). Raw SQL is invisible: a hook or action that runs some `touch`es the
 * resource; other code calls `invalidate` after its transaction commits.
 * An invalidation that cannot reach Redis (out of reach, refusing writes) is sent again until Redis takes it
 * (PendingInvalidations); until then this process reads the resources concerned from the database.
 * Example: `await this.cache.invalidate(ProductResource)` after an order decrements stock.
 */
@Injectable()
export class ResourceCache implements OnModuleInit, OnModuleDestroy, EntitySubscriberInterface {
  /** A one-statement write invalidates its resource itself. */
  readonly [STATEMENT_SAFE] = true;

  private readonly logger = new Logger('ResourceCache');
  private readonly store: CacheStore;
  private readonly prefix: string;
  /** RESOURCE_CACHE: answers are read from and stored in the cache. */
  private readonly enabled: boolean;
  /**
   * Writes invalidate: with the cache on, or in Redis whatever this process's setting, since other processes
   * sharing it may have it on (a rolling change of RESOURCE_CACHE, a worker started with it off). An
   * in-process LRU with the cache off has no reader.
   */
  private readonly invalidates: boolean;
  private readonly hits: Counter<'resource'>;
  private readonly misses: Counter<'resource'>;
  /** Per resource path: the stamps its answers depend on (its own and those of related resources). */
  private dependencies?: Map<string, string[]>;
  /** Stamps some cached resource reads: writes to other resources need no round trip. */
  private watched?: Set<string>;
  /** Resources a framework write transaction (by its manager) wrote besides its own, from hooks and actions. */
  private readonly pending = new WeakMap<EntityManager, Set<Type | string>>();
  /** Resources written by TypeORM entity operations, per open transaction. */
  private readonly written = new WeakMap<QueryRunner, Set<string>>();
  /** Transactions run by `afterCommit`, which invalidates what they wrote itself. */
  private readonly deferred = new WeakSet<QueryRunner>();
  /** Stamps whose replacement has not reached Redis yet: this process reads what depends on them itself. */
  private readonly unsent: PendingInvalidations;

  constructor(
    config: NestorConfig,
    private readonly registry: ResourceRegistry,
    private readonly dataSource: DataSource,
    metrics: MetricsService,
  ) {
    this.store = config.redisUrl ? new RedisCacheStore(config.redisUrl) : new MemoryCacheStore();
    this.prefix = `${config.jobsPrefix}:cache`;
    this.enabled = config.resourceCache;
    this.invalidates = config.resourceCache || config.redisUrl !== undefined;
    this.unsent = new PendingInvalidations(
      (stamps) => this.store.bump(stamps),
      this.logger,
      'Resource cache',
    );
    this.store.onReady(() => void this.unsent.flush());
    const counter = (name: string, help: string): Counter<'resource'> =>
      new Counter({ name, help, labelNames: ['resource'] as const, registers: [metrics.registry] });
    this.hits = counter('nestor_resource_cache_hits_total', 'Resource answers served from the cache');
    this.misses = counter(
      'nestor_resource_cache_misses_total',
      'Cached resource answers read from the database',
    );
  }

  /**
   * The answer for `parts` (what identifies the request) as the caller may see it: from the cache, or from
   * `load`, stored under the stamps read before it ran, so an answer racing a write is never stored as new.
   * Uncached resources just `load`. Redis down: the database answers (logged), nothing is stored. So does
   * a resource whose invalidation has not reached Redis yet: the cache may still hold answers from before it.
   */
  async read<T>(
    definition: ResourceDefinition,
    principal: Principal | undefined,
    parts: unknown[],
    load: () => Promise<T>,
  ): Promise<T> {
    const options = definition.cache;
    if (!options || !this.enabled) {
      return load();
    }
    const stamps = this.stampsOf(definition);
    if (this.unsent.size > 0 && stamps.some((stamp) => this.unsent.has(stamp))) {
      this.misses.inc({ resource: definition.path });
      return load();
    }
    const digest = createHash('sha1')
      .update(JSON.stringify([this.scopeOf(stamps, principal), parts]))
      .digest('base64url');
    const key = `${this.prefix}:a:${definition.path}:${digest}`;
    let found: { versions: string; value: string | undefined };
    try {
      found = await this.store.lookup(stamps, key);
    } catch (error) {
      this.logger.warn(`Cache lookup failed, reading the database: ${(error as Error).message}`);
      return load();
    }
    if (found.value !== undefined) {
      this.hits.inc({ resource: definition.path });
      return JSON.parse(found.value) as T;
    }
    this.misses.inc({ resource: definition.path });
    const answer = await load();
    await this.store
      .save(key, found.versions, JSON.stringify(answer), options.ttlSeconds)
      .catch((error: Error) => this.logger.warn(`Cache store failed: ${error.message}`));
    return answer;
  }

  /**
   * Invalidates every cached answer that reads `resource` (a `@Resource` class, its definition or its
   * path), in every process. Call it after the writing transaction commits.
   * Example: `await cache.invalidate(ProductResource)`.
   */
  async invalidate(resource: Type | ResourceDefinition | string): Promise<void> {
    const path = this.pathOf(resource);
    const stamp = this.stampKey(path);
    this.index();
    if (!this.invalidates || !this.watched!.has(stamp)) {
      return;
    }
    try {
      await this.unsent.send([stamp], () => this.store.bump([stamp]));
    } catch (error) {
      // Committed already: other processes answer from before the write until Redis takes the resend.
      this.logger.error(
        `Cache invalidation of ${path} failed: ${(error as Error).message}. Sending it again every ${RESEND_MS} ms until Redis takes it.`,
      );
    }
  }

  /**
   * Marks `resource` as written by the framework transaction of `manager` (a hook's or an admin action's):
   * it is invalidated with the transaction's own resource once that commits.
   * Example: in `beforeUpdate({ manager })` of orders, after restocking: `cache.touch(manager, 'products')`.
   */
  touch(manager: EntityManager, resource: Type | string): void {
    const set = this.pending.get(manager) ?? new Set();
    set.add(resource);
    this.pending.set(manager, set);
  }

  /**
   * Runs a framework write transaction, then invalidates `resource` and what its hooks `touch`ed, once it
   * has committed: an answer read before the COMMIT is stored under the old stamps, never read again.
   */
  async afterCommit<T>(
    dataSource: DataSource,
    resource: ResourceDefinition,
    write: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    let used: EntityManager | undefined;
    const result = await dataSource.transaction((manager) => {
      used = manager;
      this.deferred.add(manager.queryRunner!);
      return write(manager);
    });
    // After the connection went back to the pool: a slow Redis never holds it.
    const touched = [...(this.pending.get(used!) ?? [])].map((target) => this.pathOf(target));
    const paths = new Set([resource.path, ...touched, ...(this.written.get(used!.queryRunner!) ?? [])]);
    await Promise.all([...paths].map((path) => this.invalidate(path)));
    return result;
  }

  /**
   * `Cache-Control` of a cached resource's answer to an anonymous caller (`public`). Signed-in answers keep
   * the API's `no-store` (ASVS V8.2.1: a browser or proxy never keeps what a signed-in user was shown).
   */
  cacheControl(definition: ResourceDefinition, principal: Principal | undefined): string | undefined {
    const options = definition.cache;
    if (!options || principal) {
      return undefined;
    }
    return options.maxAge > 0 ? `public, max-age=${options.maxAge}` : 'public, no-cache';
  }

  onModuleInit(): void {
    if (this.invalidates) {
      this.dataSource.subscribers.push(this);
    }
  }

  afterInsert(event: InsertEvent<unknown>): Promise<void> {
    return this.entityWritten(event);
  }

  afterUpdate(event: UpdateEvent<unknown>): Promise<void> {
    return this.entityWritten(event);
  }

  afterRemove(event: RemoveEvent<unknown>): Promise<void> {
    return this.entityWritten(event);
  }

  afterSoftRemove(event: SoftRemoveEvent<unknown>): Promise<void> {
    return this.entityWritten(event);
  }

  afterRecover(event: RecoverEvent<unknown>): Promise<void> {
    return this.entityWritten(event);
  }

  /**
   * TypeORM awaits this before `commit` returns: the writer's answer leaves after the invalidation. A
   * framework transaction (`afterCommit`) invalidates after releasing its connection instead.
   */
  async afterTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    if (event.queryRunner.isTransactionActive || this.deferred.has(event.queryRunner)) {
      return; // a savepoint released (the outer transaction has not committed yet), or left to afterCommit
    }
    const paths = this.written.get(event.queryRunner);
    this.written.delete(event.queryRunner);
    await Promise.all([...(paths ?? [])].map((path) => this.invalidate(path)));
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    // After a savepoint's rollback the outer transaction may still commit: keep the set (over-invalidating is safe).
    if (!event.queryRunner.isTransactionActive) {
      this.written.delete(event.queryRunner);
    }
  }

  /**
   * A write in a transaction invalidates at its COMMIT; one outside any, at once. A many-to-many junction's
   * row (TypeORM's save of `product.tags` alone writes nothing else) invalidates the resources on both
   * sides: their id lists and includes read it.
   */
  private async entityWritten(event: { queryRunner: QueryRunner; metadata: EntityMetadata }): Promise<void> {
    const { metadata } = event;
    const targets = metadata.isJunction
      ? metadata.foreignKeys.map((key) => key.referencedEntityMetadata.target)
      : [metadata.target];
    const definitions = targets
      .map((target) => this.registry.forEntity(target))
      .filter((definition) => definition !== undefined);
    if (definitions.length === 0) {
      return;
    }
    if (!event.queryRunner.isTransactionActive) {
      await Promise.all(definitions.map((definition) => this.invalidate(definition)));
      return;
    }
    const paths = this.written.get(event.queryRunner) ?? new Set();
    for (const definition of definitions) {
      paths.add(definition.path);
    }
    this.written.set(event.queryRunner, paths);
  }

  async onModuleDestroy(): Promise<void> {
    await this.unsent.close();
    await this.store.close();
  }

  private pathOf(resource: Type | ResourceDefinition | string): string {
    if (typeof resource === 'string') {
      return resource;
    }
    return 'path' in resource && typeof resource.path === 'string'
      ? resource.path
      : this.registry.get(resource).path;
  }

  private stampKey(path: string): string {
    return `${this.prefix}:v:${path}`;
  }

  /**
   * Who may share an answer. On an owned resource (its own rows or included ones) a caller without the
   * view permission sees only their rows: such answers are keyed by the user. Staff and non-staff are
   * always apart, so a staff-only field or row never reaches a customer through the cache.
   */
  private scopeOf(stamps: string[], principal: Principal | undefined): string {
    const staff = principal?.isStaff ? 's' : 'p';
    for (const stamp of stamps) {
      const definition = this.registry.byPath(stamp.slice(this.stampKey('').length));
      if (definition.owner && !can(principal, `${definition.path}.view`)) {
        return `${staff}:u${principal?.userId ?? '-'}`;
      }
    }
    return `${staff}:all`;
  }

  private stampsOf(definition: ResourceDefinition): string[] {
    this.index();
    return this.dependencies!.get(definition.path)!;
  }

  /**
   * An answer reads its own table and, through `<relation>Id(s)`, includes (two levels deep) and cascades,
   * those of related resources: each cached resource depends on the stamps of every resource within two
   * relations of it.
   */
  private index(): void {
    if (this.dependencies) {
      return;
    }
    this.dependencies = new Map();
    this.watched = new Set();
    for (const definition of this.registry.all()) {
      if (!definition.cache) {
        continue;
      }
      const paths = new Set([definition.path]);
      let frontier = [definition];
      for (let depth = 0; depth < 2; depth++) {
        const next: ResourceDefinition[] = [];
        for (const from of frontier) {
          for (const relation of from.metadata.relations) {
            const related = this.registry.forEntity(relation.inverseEntityMetadata.target);
            if (related && !paths.has(related.path)) {
              paths.add(related.path);
              next.push(related);
            }
          }
        }
        frontier = next;
      }
      const stamps = [...paths].map((path) => this.stampKey(path));
      this.dependencies.set(definition.path, stamps);
      stamps.forEach((stamp) => this.watched!.add(stamp));
    }
  }
}
