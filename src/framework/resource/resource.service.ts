import { createHash } from 'node:crypto';
import { Inject, Injectable, Type } from '@nestjs/common';
import * as qs from 'qs';
import { DataSource, EntityManager } from 'typeorm';
import { UUID_RE } from 'src/framework/fields/formats';
import { AuditService } from 'src/framework/audit/audit.service';
import { Principal, can } from 'src/framework/access/principal';
import { forbidden, unauthorized } from 'src/framework/access/problems';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { PreparedReads } from 'src/framework/resource/prepared-reads';
import { encodeCursor } from 'src/framework/resource/query/cursors';
import type { ListQuery, Trashed } from 'src/framework/resource/query-types';
import type { ResourceDefinition, ResourceField } from 'src/framework/resource/resource-definition';
import {
  ResourceInput,
  answerMissingReferences,
  checkReferences,
  parseInput,
  referencesEnforcedByDatabase,
} from 'src/framework/resource/resource-input';
import {
  Params,
  afterCondition,
  cursorColumns,
  notDeleted,
  orderBy,
  relationLink,
  selectEntityColumns,
  selectFields,
  trashedCondition,
  whereClause,
} from 'src/framework/resource/resource-sql';
import { ident, tableOf } from 'src/framework/database/sql';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

/** The list response of docs/architecture.md §4. */
export interface ListResult {
  data: ResourceRow[];
  meta: {
    page: number | null;
    limit: number;
    total: number;
    /** True when `total` is the planner's estimate (see `estimateCountAbove`). */
    totalEstimated?: boolean;
    pageCount: number;
    nextCursor: string | null;
  };
  links: { self: string; next: string | null; prev: string | null };
}

/** Where a list was requested, to build `links`. */
export interface ListRequest {
  path: string;
  query: Record<string, unknown>;
}

type Queryable = Pick<EntityManager, 'query'>;

const SERVICE_RESOURCE = Symbol('nestor:service-resource');

/** Binds a service class to its `@Resource` class (done by `ResourceModule.forFeature`). */
export function bindService(service: Type, resourceClass: Type): void {
  Reflect.defineMetadata(SERVICE_RESOURCE, resourceClass, service);
}

/** `"<27 chars>"`: a strong validator of the full representation (without includes). */
export function etagOf(row: ResourceRow): string {
  return `"${createHash('sha1').update(JSON.stringify(row)).digest('base64url')}"`;
}

function notFound(definition: ResourceDefinition, id: unknown): ProblemException {
  return new ProblemException({
    type: PROBLEM_TYPES.notFound,
    title: 'Not Found',
    status: 404,
    detail: `No ${definition.name} with id ${String(id)}.`,
  });
}

/**
 * The row without its helper columns (`__…`: cursor keys and include owners, never sent to the client).
 * A copy rather than `delete`: deleting properties turns rows into slow dictionary-mode objects, and the
 * response's JSON.stringify then costs about 40 % more on a 20-row page.
 */
function withoutHelpers(row: ResourceRow): ResourceRow {
  const clean: ResourceRow = {};
  for (const key in row) {
    if (key.charCodeAt(0) !== 95 || key.charCodeAt(1) !== 95) {
      clean[key] = row[key];
    }
  }
  return clean;
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
  private cached?: ResourceDefinition;
  private preparedReads?: PreparedReads;
  private readonly readOneStatements = new Map<string, string>();
  private createdRow?: string;

  /** Reads outside transactions, as prepared statements on a PostgreSQL server (see PreparedReads). */
  protected get reads(): PreparedReads {
    this.preparedReads ??= new PreparedReads(this.dataSource);
    return this.preparedReads;
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

  async list(query: ListQuery, request: ListRequest, principal?: Principal): Promise<ListResult> {
    const definition = this.definition;
    if (query.trashed) {
      this.checkTrashed(principal);
    }
    const params = new Params();
    const where = whereClause(definition, query.filters, query.q, params, query.trashed);
    const owner = this.ownerScope(definition, principal, 'view');
    if (owner !== undefined) {
      where.push(`t.${ident(definition.owner!.column!.databaseName)} = ${params.add(owner)}`);
    }
    const countWhere = [...where];
    const countParams = [...params.values];
    if (query.after) {
      where.push(afterCondition(definition, query.sort, query.after, params));
    }
    const fields = this.selected(query.fields);
    const helpers = this.includeOwners(definition, query.include);
    const offset = query.page !== undefined ? (query.page - 1) * query.limit : 0;
    const columns = [...selectFields(fields), ...cursorColumns(definition, query.sort), ...helpers].join(
      ', ',
    );
    const table = tableOf(definition.metadata);
    const filtered = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const order = orderBy(definition, query.sort);
    const window = `LIMIT ${query.limit + 1}${offset ? ` OFFSET ${offset}` : ''}`;
    const pk = `t.${ident(definition.id.column!.databaseName)}`;
    // A deep OFFSET page picks its ids first and computes the columns (to-many id arrays, cursor keys) for
    // those rows only: PostgreSQL evaluates the select list of every row it skips. At 1M rows, page 40,000:
    // 2.5 s -> 0.19 s, the same rows.
    const sql = offset
      ? `SELECT ${columns} FROM ${table} t WHERE ${pk} IN (SELECT ${pk} FROM ${table} t${filtered} ` +
        `ORDER BY ${order} ${window}) ORDER BY ${order}`
      : `SELECT ${columns} FROM ${table} t${filtered} ORDER BY ${order} ${window}`;
    // Prepared (PreparedReads) only where a generic plan cannot hurt: no filter or search values, which can
    // be skewed enough to need plans of their own (and `npm run bench` showed no clear gain for a filtered
    // list), and no inlined OFFSET, which would make one statement per page.
    const prepare = query.filters.length === 0 && !query.q;
    const [rows, counted] = await Promise.all([
      this.reads.query<ResourceRow[]>(sql, params.values, prepare && !offset),
      this.count(countWhere, countParams, prepare),
    ]);
    const more = rows.length > query.limit;
    if (more) {
      rows.pop();
    }
    const last = rows[rows.length - 1];
    const nextCursor = more && last ? encodeCursor(query.sort.map((_, i) => last[`__k${i}`])) : null;
    await this.loadIncludes(this.reads, definition, rows, query.include, principal);

    const pageCount = Math.ceil(counted.total / query.limit);
    const link = (changes: Record<string, unknown>): string => {
      const merged: Record<string, unknown> = { ...request.query, ...changes };
      for (const key of Object.keys(merged)) {
        if (merged[key] === undefined) {
          delete merged[key];
        }
      }
      // Fully percent-encoded (brackets too), so each link is a valid URI reference; repeated list
      // parameters come back in the documented comma form.
      const search = qs.stringify(merged, { arrayFormat: 'comma' });
      return search ? `${request.path}?${search}` : request.path;
    };
    const page = query.page ?? null;
    return {
      data: rows.map(withoutHelpers),
      meta: {
        page,
        limit: query.limit,
        total: counted.total,
        ...(counted.estimated ? { totalEstimated: true } : {}),
        pageCount,
        nextCursor,
      },
      links: {
        self: link({}),
        next:
          page !== null
            ? more
              ? link({ page: page + 1, after: undefined })
              : null
            : nextCursor
              ? link({ after: nextCursor, page: undefined })
              : null,
        prev: page !== null && page > 1 ? link({ page: page - 1, after: undefined }) : null,
      },
    };
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
    const row = await this.readOne(this.reads, id, {
      helpers: options.include ?? [],
      ownerId: this.ownerScope(this.definition, options.principal, 'view'),
      trashed: options.trashed,
    });
    if (!row) {
      throw notFound(this.definition, id);
    }
    // Helper columns exist only with includes; without them the row is its own full representation.
    const etag = etagOf(options.include?.length ? withoutHelpers(row) : row);
    await this.loadIncludes(this.reads, this.definition, [row], options.include ?? [], options.principal);
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
    return { row: options.include?.length ? withoutHelpers(row) : row, etag };
  }

  /** Validates and inserts in one transaction (hooks included); returns the stored row. */
  async create(body: unknown, principal?: Principal): Promise<{ row: ResourceRow; etag: string }> {
    const definition = this.definition;
    const input = await parseInput(definition, body, false);
    if (definition.owner && principal) {
      input.values[definition.owner.column!.propertyName] = principal.userId;
    }
    // A beforeCreate hook may read what the references name, so it only runs once they are checked.
    const byDatabase = !definition.hooks.beforeCreate && referencesEnforcedByDatabase(definition, input);
    const created = this.dataSource.transaction(async (manager) => {
      if (!byDatabase) {
        await checkReferences(manager, definition, input);
      }
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
        .returning(linked ? ident(idColumn) : this.createdRowSql())
        .updateEntity(false)
        .execute();
      const inserted = (result.raw as ResourceRow[])[0];
      const id = linked ? inserted[idColumn] : inserted[definition.id.name];
      await this.writeMany(manager, id, input, false);
      const row = linked ? (await this.readOne(manager, id))! : inserted;
      await definition.hooks.afterCreate?.({ manager, principal, row });
      await this.audit.recordWrite(manager, definition, {
        principal,
        operation: 'create',
        recordId: id,
        before: null,
        after: row,
      });
      return { row, etag: etagOf(row) };
    });
    return byDatabase
      ? created.catch((error) => answerMissingReferences(error, this.dataSource.manager, definition, input))
      : created;
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
    const byDatabase = !definition.hooks.beforeUpdate && referencesEnforcedByDatabase(definition, input);
    const updated = this.dataSource.transaction(async (manager) => {
      const owner = this.ownerScope(definition, principal, 'change');
      const current = await this.lockCurrent(manager, id, ifMatch, owner);
      if (!byDatabase) {
        await checkReferences(manager, definition, input);
      }
      await definition.hooks.beforeUpdate?.({ manager, principal, id, input: input.values, current });
      if (Object.keys(input.values).length > 0) {
        await manager
          .createQueryBuilder()
          .update(definition.metadata.target)
          .set(input.values)
          .where(`${ident(definition.id.column!.databaseName)} = :id`, { id })
          .execute();
      }
      await this.writeMany(manager, id, input, true);
      const row = (await this.readOne(manager, id))!;
      await definition.hooks.afterUpdate?.({ manager, principal, row, previous: current });
      await this.audit.recordWrite(manager, definition, {
        principal,
        operation: 'update',
        recordId: id,
        before: current,
        after: row,
      });
      return { row, etag: etagOf(row) };
    });
    return byDatabase
      ? updated.catch((error) => answerMissingReferences(error, this.dataSource.manager, definition, input))
      : updated;
  }

  /** Deletes (soft-deletes when enabled) under a row lock, honouring `ifMatch`. */
  async remove(id: unknown, ifMatch?: string, principal?: Principal): Promise<void> {
    const definition = this.definition;
    await this.dataSource.transaction(async (manager) => {
      const owner = this.ownerScope(definition, principal, 'delete');
      const current = await this.lockCurrent(manager, id, ifMatch, owner);
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
    });
  }

  /** Brings back a soft-deleted row (a row that is not deleted is returned unchanged). */
  async restore(id: unknown, principal?: Principal): Promise<{ row: ResourceRow; etag: string }> {
    const definition = this.definition;
    return this.dataSource.transaction(async (manager) => {
      const existing = await this.readOne(manager, id, {
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
      const row = (await this.readOne(manager, id))!;
      await this.audit.recordWrite(manager, definition, {
        principal,
        operation: 'restore',
        recordId: id,
        before: existing,
        after: row,
      });
      return { row, etag: etagOf(row) };
    });
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
    if (!definition.owner || can(principal, `${definition.path}.${action}`)) {
      return undefined;
    }
    return principal?.userId ?? null;
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

  /** The readable fields for `fields=` (all when absent; the id always). */
  protected selected(names: string[] | undefined): ResourceField[] {
    const { readable, id } = this.definition;
    if (!names) {
      return [...readable];
    }
    const wanted = new Set([id.name, ...names]);
    return readable.filter((f) => wanted.has(f.name));
  }

  private async lockCurrent(
    manager: EntityManager,
    id: unknown,
    ifMatch: string | undefined,
    ownerId: unknown,
  ): Promise<ResourceRow> {
    const current = await this.readOne(manager, id, { lock: true, ownerId });
    if (!current) {
      throw notFound(this.definition, id);
    }
    if (ifMatch !== undefined && ifMatch.trim() !== '*') {
      const etag = etagOf(current);
      const offered = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
      if (!offered.includes(etag)) {
        throw new ProblemException({
          type: PROBLEM_TYPES.preconditionFailed,
          title: 'Precondition Failed',
          status: 412,
          detail: `The ${this.definition.name} was changed since you read it (If-Match ${ifMatch} ≠ ${etag}). Fetch it again and retry.`,
        });
      }
    }
    return current;
  }

  /**
   * Reads one row's full representation (plus include helper columns), optionally locked FOR UPDATE.
   * Live rows only unless `trashed` says otherwise.
   */
  private async readOne(
    manager: Queryable,
    id: unknown,
    options: { lock?: boolean; trashed?: Trashed; helpers?: string[]; ownerId?: unknown } = {},
  ): Promise<ResourceRow | undefined> {
    const owned = options.ownerId !== undefined;
    const rows = await manager.query<ResourceRow[]>(
      this.readOneSql(options.lock === true, options.trashed, options.helpers ?? [], owned),
      owned ? [id, options.ownerId] : [id],
    );
    return rows[0];
  }

  /** The RETURNING list of a create: readOne's columns, on the table INSERT names (it takes no alias). */
  private createdRowSql(): string {
    this.createdRow ??= selectFields(
      this.definition.readable,
      ident(this.definition.metadata.tableName),
    ).join(', ');
    return this.createdRow;
  }

  /**
   * The statement of `readOne`, built once per shape: the same string object each time also keeps the
   * prepared-statement lookup cheap (see PreparedReads).
   */
  private readOneSql(
    lock: boolean,
    trashed: Trashed | undefined,
    helpers: readonly string[],
    owned: boolean,
  ): string {
    const key = `${lock ? 'l' : ''}|${trashed ?? ''}|${owned ? 'o' : ''}|${helpers.join(',')}`;
    let sql = this.readOneStatements.get(key);
    if (sql === undefined) {
      const definition = this.definition;
      const select = [...selectFields(definition.readable), ...this.includeOwners(definition, helpers)];
      const condition = trashedCondition(definition, trashed);
      const deleted = condition ? ` AND ${condition}` : '';
      const ownedBy = owned ? ` AND t.${ident(definition.owner!.column!.databaseName)} = $2` : '';
      sql = `SELECT ${select.join(', ')} FROM ${tableOf(definition.metadata)} t WHERE t.${ident(
        definition.id.column!.databaseName,
      )} = $1${deleted}${ownedBy}${lock ? ' FOR UPDATE OF t' : ''}`;
      // Include paths come from an allow-list, so the shapes are few; the bound is only a safeguard.
      if (this.readOneStatements.size < 200) {
        this.readOneStatements.set(key, sql);
      }
    }
    return sql;
  }

  /** Exact count, or the planner's estimate when it exceeds `estimateCountAbove`. */
  private async count(
    where: string[],
    params: unknown[],
    prepare: boolean,
  ): Promise<{ total: number; estimated: boolean }> {
    const definition = this.definition;
    const from = `FROM ${tableOf(definition.metadata)} t${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    const threshold = definition.options.estimateCountAbove;
    if (threshold !== undefined) {
      const plan = await this.dataSource.query<
        { 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] | string }[]
      >(`EXPLAIN (FORMAT JSON) SELECT 1 ${from}`, params);
      const raw = plan[0]['QUERY PLAN'];
      const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [{ Plan: { 'Plan Rows': number } }];
      const estimate = parsed[0].Plan['Plan Rows'];
      if (estimate > threshold) {
        return { total: estimate, estimated: true };
      }
    }
    const rows = await this.reads.query<{ n: number }[]>(
      `SELECT count(*)::int AS n ${from}`,
      params,
      prepare,
    );
    return { total: rows[0].n, estimated: false };
  }

  /** Helper columns carrying each included relation's owner key (`__o_<relation>`). */
  private includeOwners(definition: ResourceDefinition, include: readonly string[]): string[] {
    const top = [...new Set(include.map((path) => path.split('.')[0]))];
    return top.map((name) => {
      const link = relationLink(definition.relations.get(name)!, 0);
      return `t.${ident(link.ownerColumn.databaseName)} AS ${ident(`__o_${name}`)}`;
    });
  }

  /**
   * Loads included relations for a page of rows: one batched query per relation path, never one per row,
   * so the statement count is constant whatever the page size.
   */
  private async loadIncludes(
    manager: Queryable,
    definition: ResourceDefinition | undefined,
    rows: ResourceRow[],
    include: readonly string[],
    principal: Principal | undefined,
    metadata = definition?.metadata,
  ): Promise<void> {
    if (rows.length === 0 || include.length === 0 || !metadata) {
      return;
    }
    const top = [...new Set(include.map((path) => path.split('.')[0]))];
    for (const name of top) {
      const relation = metadata.relations.find((r) => r.propertyName === name)!;
      const nested = include.filter((p) => p.startsWith(`${name}.`)).map((p) => p.slice(name.length + 1));
      const target = relation.inverseEntityMetadata;
      const targetDefinition = this.registry.forEntity(target.target);
      const link = relationLink(relation, 1);
      const keys = [
        ...new Set(rows.map((row) => row[`__o_${name}`]).filter((k) => k !== null && k !== undefined)),
      ];
      const nestedOwners = nested
        .map((p) => p.split('.')[0])
        .filter((n, i, all) => all.indexOf(n) === i)
        .map((n) => {
          const inner = relationLink(
            target.relations.find((r) => r.propertyName === n)!,
            0,
          );
          return `${link.alias}.${ident(inner.ownerColumn.databaseName)} AS ${ident(`__o_${n}`)}`;
        });
      const columns = targetDefinition
        ? selectFields(targetDefinition.readable, link.alias)
        : selectEntityColumns(target, link.alias);
      // An owned target is limited to the caller's rows, as its own routes would be.
      const targetOwner = targetDefinition && this.ownerScope(targetDefinition, principal, 'view');
      const ownedOnly =
        targetOwner !== undefined
          ? ` AND ${link.alias}.${ident(targetDefinition!.owner!.column!.databaseName)} = $2`
          : '';
      const related =
        keys.length === 0
          ? []
          : await manager.query<ResourceRow[]>(
              `SELECT ${[...columns, ...nestedOwners, `${link.key} AS "__owner"`].join(', ')} FROM ${link.from} WHERE ${
                link.key
              } = ANY($1)${link.many ? notDeleted(target, link.alias) : ''}${ownedOnly} ORDER BY ${link.alias}.${ident(
                target.primaryColumns[0].databaseName,
              )}`,
              targetOwner !== undefined ? [keys, targetOwner] : [keys],
            );
      await this.loadIncludes(manager, targetDefinition, related, nested, principal, target);
      const byOwner = new Map<string, ResourceRow[]>();
      for (const item of related) {
        const owner = String(item.__owner);
        const found = byOwner.get(owner);
        if (found) {
          found.push(withoutHelpers(item));
        } else {
          byOwner.set(owner, [withoutHelpers(item)]);
        }
      }
      for (const row of rows) {
        const found = byOwner.get(String(row[`__o_${name}`])) ?? [];
        row[name] = link.many ? found : (found[0] ?? null);
      }
    }
  }

  /** Replaces the rows of each written to-many relation's junction table. */
  private async writeMany(
    manager: EntityManager,
    id: unknown,
    input: ResourceInput,
    replace: boolean,
  ): Promise<void> {
    for (const [field, ids] of input.many) {
      const relation = manager
        .createQueryBuilder()
        .relation(this.definition.metadata.target, field.relation!.propertyName)
        .of(id);
      if (replace) {
        const current = await relation.loadMany<Record<string, unknown>>();
        const pk = field.relation!.inverseEntityMetadata.primaryColumns[0].propertyName;
        const currentIds = current.map((r) => r[pk]);
        await relation.addAndRemove(
          ids.filter((i) => !currentIds.some((c) => String(c) === String(i))),
          currentIds.filter((c) => !ids.some((i) => String(c) === String(i))),
        );
      } else if (ids.length > 0) {
        await relation.add(ids);
      }
    }
  }
}
