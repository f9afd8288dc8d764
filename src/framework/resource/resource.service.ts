import { Inject, Injectable, Optional, Type } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { UUID_RE } from 'src/framework/fields/formats';
import { AuditService } from 'src/framework/audit/audit.service';
import { Principal, can } from 'src/framework/access/principal';
import { forbidden, unauthorized } from 'src/framework/access/problems';
import { IdempotencyService } from 'src/framework/idempotency/idempotency.service';
import { OneStatementCreate } from 'src/framework/resource/one-statement-create';
import { PreparedStatements } from 'src/framework/resource/prepared-statements';
import { ResourceCache } from 'src/framework/resource/resource-cache';
import { ResourceEvents } from 'src/framework/resource/resource-events';
import type { ListQuery, Trashed } from 'src/framework/resource/query-types';
import type { ResourceDefinition, ResourceField } from 'src/framework/resource/resource-definition';
import { IncludeScope, joinedIncludes, loadIncludes } from 'src/framework/resource/include-loader';
import {
  ListRequest,
  ListResult,
  afterValues,
  countRows,
  listResult,
  pageOffset,
  pageShape,
  pageRows,
  pageStatement,
} from 'src/framework/resource/list-page';
import {
  ResourceInput,
  answerMissingReferences,
  checkReferences,
  parseInput,
  referencesEnforcedByDatabase,
} from 'src/framework/resource/resource-input';
import { etagOf, notFound, ownerScopeOf, withoutHelpers } from 'src/framework/resource/resource-rows';
import { Params, afterCondition, whereClause } from 'src/framework/resource/resource-sql';
import { RowReader } from 'src/framework/resource/row-reader';
import { writeMany } from 'src/framework/resource/to-many-links';
import { ident } from 'src/framework/database/sql';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

export type { ListRequest, ListResult } from 'src/framework/resource/list-page';
export { etagOf } from 'src/framework/resource/resource-rows';

const SERVICE_RESOURCE = Symbol('nestor:service-resource');

/** Binds a service class to its `@Resource` class (done by `ResourceModule.forFeature`). */
export function bindService(service: Type, resourceClass: Type): void {
  Reflect.defineMetadata(SERVICE_RESOURCE, resourceClass, service);
}

/**
 * The generated service behind a resource's routes: list, get, create, update, delete, restore, with the
 * resource's hooks and an audit entry (`AuditService`) inside each write transaction. Subclass it to change
 * or add behaviour, and name the subclass in `@Resource(Entity, { service: MyService })`.
 * Example: `class OrderService extends ResourceService { override async create(body) { … } }`.
 */
@Injectable()
export class ResourceService {
  @Inject(DataSource) protected readonly dataSource!: DataSource;
  @Inject(ResourceRegistry) protected readonly registry!: ResourceRegistry;
  @Inject(AuditService) protected readonly audit!: AuditService;
  /** The answer cache of resources declared with `cache`; invalidate it after writing tables directly. */
  @Inject(ResourceCache) protected readonly cache!: ResourceCache;
  /** Committed writes, told to listeners (GraphQL's live updates) after COMMIT. */
  @Inject(ResourceEvents) protected readonly events!: ResourceEvents;
  @Optional() @Inject(IdempotencyService) private readonly idempotency?: IdempotencyService;
  private cached?: ResourceDefinition;
  private oneStatement?: OneStatementCreate;
  private preparedStatements?: PreparedStatements;
  private rowReader?: RowReader;

  /** Statements outside transactions (reads, one-statement creates), prepared (see PreparedStatements). */
  protected get statements(): PreparedStatements {
    this.preparedStatements ??= new PreparedStatements(this.dataSource);
    return this.preparedStatements;
  }

  /** Reads one row of this resource, with statements built once per shape. */
  private get rowReads(): RowReader {
    this.rowReader ??= new RowReader(this.definition);
    return this.rowReader;
  }

  /** Resources by entity and the caller's owner scope, for included relations. */
  private get includeScope(): IncludeScope {
    return {
      forEntity: (target) => this.registry.forEntity(target),
      ownerScope: (definition, principal) => this.ownerScope(definition, principal, 'view'),
    };
  }

  /** This service's resource, resolved at boot. */
  get definition(): ResourceDefinition {
    if (!this.cached) {
      const resourceClass = Reflect.getMetadata(SERVICE_RESOURCE, this.constructor) as unknown;
      this.cached = this.registry.get(resourceClass);
    }
    return this.cached;
  }

  /** Parses a path id as the primary key type; a value that cannot be a key is simply not found. */
  parseId(raw: string): unknown {
    const { id } = this.definition;
    if (id.type === 'integer' || id.type === 'bigint') {
      if (!/^\d{1,18}$/.test(raw) || (id.type === 'integer' && Number(raw) > 2147483647)) {
        throw notFound(this.definition, raw);
      }
      return id.type === 'integer' ? Number(raw) : raw;
    }
    if (id.type === 'uuid' && !UUID_RE.test(raw)) {
      throw notFound(this.definition, raw);
    }
    return raw;
  }

  /** A page of rows as `principal` may see them (from the cache when the resource declares one). */
  async list(query: ListQuery, request: ListRequest, principal?: Principal): Promise<ListResult> {
    if (query.trashed) {
      this.checkTrashed(principal);
    }
    // The raw query decides the parsed one and the page links: the path and it identify the answer.
    return this.cache.read(this.definition, principal, ['list', request.path, request.query], () =>
      this.readList(query, request, principal),
    );
  }

  /** `list` without the cache. */
  protected async readList(
    query: ListQuery,
    request: ListRequest,
    principal?: Principal,
  ): Promise<ListResult> {
    const definition = this.definition;
    const params = new Params();
    const where = whereClause(definition, query.filters, query.q, params, query.trashed);
    const owner = this.ownerScope(definition, principal, 'view');
    if (owner !== undefined) {
      where.push(`t.${ident(definition.owner!.column!.databaseName)} = ${params.add(owner)}`);
    }
    const countWhere = [...where];
    const countParams = [...params.values];
    if (query.after) {
      const after = await afterValues(this.statements, definition, query, owner);
      where.push(afterCondition(definition, query.sort, after, params));
    }
    // Prepared (PreparedStatements) only where a generic plan cannot hurt: no filter or search values, which can
    // be skewed enough to need plans of their own (and `npm run bench` showed no clear gain for a filtered
    // list), and no inlined OFFSET, which would make one statement per page.
    const prepare = query.filters.length === 0 && !query.q;
    const offset = pageOffset(query);
    const prepared = prepare && !offset;
    const fields = this.selected(query.fields);
    const scope = query.include.length > 0 ? this.includeScope : undefined;
    // To-one includes are joined into a prepared page only. Planned afresh for each request (a filtered
    // page), the join cost PostgreSQL about 100 µs more than the page and the include's own prepared
    // statement together; prepared, about 15 µs less, and the round trip and the second result go.
    const joined = prepared
      ? scope && joinedIncludes(scope, definition, query.include, principal)
      : undefined;
    // The page's own statement counts the list: one statement and one round trip fewer than a count beside
    // it. Not where the total may be the planner's estimate, nor on a numbered page past the first, whose
    // OFFSET can make the page as slow as the count: side by side, the two take the time of the slower.
    const inPage = definition.options.estimateCountAbove === undefined && !offset;
    const shape = pageShape(definition, fields, query, joined, inPage);
    const sql = pageStatement(definition, query, shape, where, countWhere);
    const [rows, counted] = await pageRows(
      this.statements.query<ResourceRow[]>(sql, params.values, prepared),
      () => countRows(this.dataSource, this.statements, definition, countWhere, countParams, prepare),
      inPage,
      !query.after,
    );
    const more = rows.length > query.limit;
    if (more) {
      rows.pop();
    }
    if (scope) {
      await loadIncludes(
        this.statements,
        scope,
        definition,
        rows,
        query.include,
        principal,
        definition.metadata,
        fields,
        shape.joined,
      );
    }
    return listResult(query, request, shape, rows, more, counted);
  }

  /**
   * One row with its ETag (of the full representation), projected to `fields` and with `include`s;
   * `trashed` (which needs the change permission) finds soft-deleted rows too (`with`) or only (`only`).
   */
  async get(
    id: unknown,
    options: { fields?: string[]; include?: string[]; principal?: Principal; trashed?: Trashed } = {},
  ): Promise<{ row: ResourceRow; etag: string }> {
    if (options.trashed) {
      this.checkTrashed(options.principal);
    }
    const { fields, include, trashed } = options;
    return this.cache.read(this.definition, options.principal, ['get', id, fields, include, trashed], () =>
      this.readOne(id, options),
    );
  }

  /** `get` without the cache. */
  protected async readOne(
    id: unknown,
    options: { fields?: string[]; include?: string[]; principal?: Principal; trashed?: Trashed },
  ): Promise<{ row: ResourceRow; etag: string }> {
    const scope = options.include?.length ? this.includeScope : undefined;
    // Its to-one includes are joined: the statement is prepared (see readList's joins).
    const joined = scope && joinedIncludes(scope, this.definition, options.include!, options.principal);
    const row = await this.rowReads.readOne(this.statements, id, {
      helpers: options.include ?? [],
      ownerId: this.ownerScope(this.definition, options.principal, 'view'),
      trashed: options.trashed,
      joined,
    });
    if (!row) {
      throw notFound(this.definition, id);
    }
    // Helper columns exist only with includes; without them the row is its own full representation.
    const etag = etagOf(scope ? withoutHelpers(row) : row);
    if (scope) {
      await loadIncludes(
        this.statements,
        scope,
        this.definition,
        [row],
        options.include!,
        options.principal,
        this.definition.metadata,
        this.definition.readable,
        joined,
      );
    }
    if (options.fields) {
      const keep = new Set([...options.fields, ...(options.include ?? []).map((p) => p.split('.')[0])]);
      const projected: ResourceRow = {};
      for (const key in row) {
        if (keep.has(key)) {
          projected[key] = row[key];
        }
      }
      return { row: projected, etag };
    }
    return { row: scope ? withoutHelpers(row) : row, etag };
  }

  /** Validates and inserts in one transaction (hooks included); returns the stored row. */
  async create(body: unknown, principal?: Principal): Promise<{ row: ResourceRow; etag: string }> {
    const definition = this.definition;
    const input = await parseInput(definition, body, false);
    if (definition.owner && principal) {
      input.values[definition.owner.column!.propertyName] = principal.userId;
    }
    this.oneStatement ??= new OneStatementCreate(this.dataSource, definition, this.audit, this.statements);
    if (this.oneStatement.applies(input, this.idempotency?.inKeyedRequest() ?? false)) {
      const row = await this.oneStatement
        .create(input, principal, this.rowReads.createdRowSql())
        .catch((error) => answerMissingReferences(error, this.dataSource.manager, definition, input));
      await this.cache.invalidate(definition);
      this.events.committed(definition, 'create', row[definition.id.name], row);
      return { row, etag: etagOf(row) };
    }
    const created = await this.referencingWrite(
      input,
      !!definition.hooks.beforeCreate,
      async (manager, checkRefs) => {
        await checkRefs();
        await definition.hooks.beforeCreate?.({ manager, principal, input: input.values });
        // Without to-many links to write, the INSERT returns the row as readOne would read it: one round
        // trip fewer per create. With links, the row is read after they are written.
        const linked = [...input.many.values()].some((ids) => ids.length > 0);
        const idColumn = definition.id.column!.databaseName;
        const result = await manager
          .createQueryBuilder()
          .insert()
          .into(definition.metadata.target)
          .values(input.values)
          .returning(linked ? ident(idColumn) : this.rowReads.createdRowSql())
          .updateEntity(false)
          .execute();
        const inserted = (result.raw as ResourceRow[])[0];
        const id = linked ? inserted[idColumn] : inserted[definition.id.name];
        await writeMany(manager, definition, id, input, false);
        const row = linked ? (await this.rowReads.readOne(manager, id))! : inserted;
        await definition.hooks.afterCreate?.({ manager, principal, row });
        return this.recorded(manager, principal, 'create', id, null, row);
      },
    );
    this.events.committed(definition, 'create', created.row[definition.id.name], created.row);
    return created;
  }

  /** Applies a partial update under a row lock; `ifMatch` (an ETag) must match the current row. */
  async update(
    id: unknown,
    body: unknown,
    ifMatch?: string,
    principal?: Principal,
  ): Promise<{ row: ResourceRow; etag: string }> {
    const definition = this.definition;
    const input = await parseInput(definition, body, true);
    const updated = await this.referencingWrite(
      input,
      !!definition.hooks.beforeUpdate,
      async (manager, checkRefs) => {
        const owner = this.ownerScope(definition, principal, 'change');
        const current = await this.rowReads.lockCurrent(manager, id, ifMatch, owner);
        await checkRefs();
        await definition.hooks.beforeUpdate?.({ manager, principal, id, input: input.values, current });
        if (Object.keys(input.values).length > 0) {
          await manager
            .createQueryBuilder()
            .update(definition.metadata.target)
            .set(input.values)
            .where(`${ident(definition.id.column!.databaseName)} = :id`, { id })
            .execute();
        }
        await writeMany(manager, definition, id, input, true);
        const row = (await this.rowReads.readOne(manager, id))!;
        await definition.hooks.afterUpdate?.({ manager, principal, row, previous: current });
        return this.recorded(manager, principal, 'update', id, current, row);
      },
    );
    this.events.committed(definition, 'update', id, updated.row);
    return updated;
  }

  /** Deletes (soft-deletes when enabled) under a row lock, honouring `ifMatch`. */
  async remove(id: unknown, ifMatch?: string, principal?: Principal): Promise<void> {
    const definition = this.definition;
    const previous = await this.committed(async (manager) => {
      const owner = this.ownerScope(definition, principal, 'delete');
      const current = await this.rowReads.lockCurrent(manager, id, ifMatch, owner);
      await definition.hooks.beforeDelete?.({ manager, principal, id, current });
      const builder = manager.createQueryBuilder();
      const where = `${ident(definition.id.column!.databaseName)} = :id`;
      if (definition.deleteDateColumn) {
        await builder.softDelete().from(definition.metadata.target).where(where, { id }).execute();
      } else {
        await builder.delete().from(definition.metadata.target).where(where, { id }).execute();
      }
      await definition.hooks.afterDelete?.({ manager, principal, id, previous: current });
      await this.audit.recordWrite(manager, definition, {
        principal,
        operation: 'delete',
        recordId: id,
        before: current,
        after: null,
      });
      return current;
    });
    this.events.committed(definition, 'delete', id, previous);
  }

  /** Brings back a soft-deleted row (a row that is not deleted is returned unchanged). */
  async restore(id: unknown, principal?: Principal): Promise<{ row: ResourceRow; etag: string }> {
    const definition = this.definition;
    const restored = await this.committed(async (manager) => {
      const existing = await this.rowReads.readOne(manager, id, {
        lock: true,
        trashed: 'with',
        ownerId: this.ownerScope(definition, principal, 'change'),
      });
      if (!existing) {
        throw notFound(definition, id);
      }
      await manager
        .createQueryBuilder()
        .restore()
        .from(definition.metadata.target)
        .where(`${ident(definition.id.column!.databaseName)} = :id`, { id })
        .execute();
      const row = (await this.rowReads.readOne(manager, id))!;
      return this.recorded(manager, principal, 'restore', id, existing, row);
    });
    this.events.committed(definition, 'restore', id, restored.row);
    return restored;
  }

  /**
   * The owner id a caller is limited to on an owned resource, or undefined when unrestricted (not owned,
   * or the caller holds the permission for all rows). Anonymous callers get null: no row matches.
   */
  protected ownerScope(
    definition: ResourceDefinition,
    principal: Principal | undefined,
    action: 'view' | 'change' | 'delete',
  ): unknown {
    return ownerScopeOf(definition, principal, action);
  }

  /**
   * Soft-deleted rows are the trash: seeing them needs the resource's change permission (the route itself
   * only needed view). 401 for anonymous callers, 403 for the others.
   */
  protected checkTrashed(principal: Principal | undefined): void {
    const permission = `${this.definition.path}.change`;
    if (!principal) {
      throw unauthorized();
    }
    if (!can(principal, permission)) {
      throw forbidden(`Deleted ${this.definition.name} rows (trashed=) need the ${permission} permission.`);
    }
  }

  /**
   * The readable fields for `fields=` (all when absent: the definition's own array, whose select list is
   * then built once; the id always).
   */
  protected selected(names: string[] | undefined): readonly ResourceField[] {
    const { readable, id } = this.definition;
    if (!names) {
      return readable;
    }
    const wanted = new Set([id.name, ...names]);
    return readable.filter((f) => wanted.has(f.name));
  }

  /**
   * A write transaction of a body with references. Without a before-hook (which may read what the
   * references name, so needs them checked first), the database's foreign keys check them, one query
   * fewer, and a violation is answered as `checkReferences` would; otherwise `checkRefs` checks them.
   */
  private referencingWrite<T>(
    input: ResourceInput,
    hooked: boolean,
    write: (manager: EntityManager, checkRefs: () => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const definition = this.definition;
    const byDatabase = !hooked && referencesEnforcedByDatabase(definition, input);
    const written = this.committed((manager) =>
      write(manager, async () => {
        if (!byDatabase) {
          await checkReferences(manager, definition, input);
        }
      }),
    );
    return byDatabase
      ? written.catch((error) => answerMissingReferences(error, this.dataSource.manager, definition, input))
      : written;
  }

  /** The audit entry of a write that answers its row, inside its transaction; then the row and its ETag. */
  private async recorded(
    manager: EntityManager,
    principal: Principal | undefined,
    operation: 'create' | 'update' | 'restore',
    id: unknown,
    before: ResourceRow | null,
    row: ResourceRow,
  ): Promise<{ row: ResourceRow; etag: string }> {
    await this.audit.recordWrite(manager, this.definition, {
      principal,
      operation,
      recordId: id,
      before,
      after: row,
    });
    return { row, etag: etagOf(row) };
  }

  /** One write transaction; the cache is invalidated once it has committed (ResourceCache.afterCommit). */
  private committed<T>(write: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.cache.afterCommit(this.dataSource, this.definition, write);
  }
}
