import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager, EntityMetadata } from 'typeorm';
import type { Principal } from 'src/framework/access/principal';
import { AuditChanges, diff, isSecretField } from 'src/framework/audit/audit-diff';
import { AuditEntry, AuditOperation } from 'src/framework/audit/audit-entry.entity';
import { ident, tableOf } from 'src/framework/database/sql';

/**
 * What recording a resource's writes needs of it: a resource's `ResourceDefinition` is one. Declared here,
 * so the audit sits below the resources that record into it (no import of resource/).
 */
export interface AuditedResource {
  /** The resource path: `products`. */
  path: string;
  id: { name: string };
  metadata: EntityMetadata;
  fields: ReadonlyMap<string, { name: string; readable: boolean }>;
}

/** A record as the API shows it (a resource row). */
type AuditedRow = Record<string, unknown>;

/** One thing that happened, as `AuditService.record` takes it. */
export interface AuditRecord {
  /** Who did it; undefined for the system (a job, a script) or an anonymous caller. */
  principal?: Principal;
  /** The resource path: `products`. */
  resource: string;
  recordId: unknown;
  operation: AuditOperation;
  /** The admin action's name, for `operation: 'action'`. */
  actionName?: string | null;
  /** Changed fields (see `diff`); secrets must already be left out. Default `{}`. */
  changes?: AuditChanges;
}

/** The columns written, in the order of the VALUES tuples. */
const COLUMNS = [
  'actorId',
  'actorEmail',
  'via',
  'resource',
  'recordId',
  'operation',
  'actionName',
  'changes',
] as const;
/** PostgreSQL allows 65535 parameters per statement; bulk writes are split below that. */
const ROWS_PER_STATEMENT = Math.floor(65535 / COLUMNS.length);

/**
 * Whether two JSON values are equal as jsonb compares them (object key order aside), without writing either
 * out: the check of every one-statement create. Values that are not JSON's (a Date) never reach it.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return false;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => sameJson(item, b[i]))
    );
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]))
  );
}

/** `api` for tokens and API keys, `admin` for the admin panel's session, `system` without a caller. */
function viaOf(principal: Principal | undefined): string {
  if (!principal) {
    return 'system';
  }
  return principal.via === 'jwt' || principal.via === 'api-key' ? 'api' : 'admin';
}

/**
 * Writes the audit history (`/api/audit-entries`): who changed which record, when, through what, and the
 * changed fields. Call it with the write's transaction manager, so a rolled-back write leaves no entry.
 * The generated resource routes record their writes themselves; call it for your own writes and actions.
 * Example: `await audit.record(manager, { principal, resource: 'products', recordId: id, operation: 'action', actionName: 'archive' })`.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');
  private readonly omitted = new WeakMap<AuditedResource, ReadonlySet<string>>();
  private insertPrefix?: string;

  /** Inserts the entries in one statement (per 8191 entries), inside the caller's transaction. */
  async record(
    manager: Pick<EntityManager, 'query' | 'connection'>,
    entries: AuditRecord | readonly AuditRecord[],
  ): Promise<void> {
    const list: readonly AuditRecord[] = Array.isArray(entries) ? entries : [entries as AuditRecord];
    for (let start = 0; start < list.length; start += ROWS_PER_STATEMENT) {
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (const entry of list.slice(start, start + ROWS_PER_STATEMENT)) {
        const at = values.length;
        values.push(
          entry.principal?.userId ?? null,
          entry.principal?.email ?? null,
          viaOf(entry.principal),
          entry.resource,
          String(entry.recordId),
          entry.operation,
          entry.actionName ?? null,
          JSON.stringify(entry.changes ?? {}),
        );
        tuples.push(
          `(${COLUMNS.map((name, i) => `$${at + i + 1}${name === 'changes' ? '::jsonb' : ''}`).join(', ')})`,
        );
      }
      await manager.query(`${this.prefix(manager)} VALUES ${tuples.join(', ')}`, values);
    }
  }

  /**
   * Records a write made through a resource's service: the diff of `before` and `after` (null for a
   * create or a delete) in the API representation, without the fields `omittedFields` names.
   */
  async recordWrite(
    manager: Pick<EntityManager, 'query' | 'connection'>,
    definition: AuditedResource,
    write: {
      principal?: Principal;
      operation: Exclude<AuditOperation, 'action'>;
      recordId: unknown;
      before: AuditedRow | null;
      after: AuditedRow | null;
    },
  ): Promise<void> {
    await this.record(manager, {
      principal: write.principal,
      resource: definition.path,
      recordId: write.recordId,
      operation: write.operation,
      changes: diff(write.before, write.after, this.omittedFields(definition)),
    });
  }

  /**
   * The `INSERT … SELECT` of a created record's entry, for a statement that inserts the record and its
   * entry at once (`WITH created AS (INSERT … RETURNING …)`): `source` names that CTE, `recordId` and
   * `changes` are SQL over it (`changes` must equal `diff(null, row)`; `correctChanges` mends it otherwise).
   * Values go into `params`. Returns the SQL, which answers the entry's `id` and `changes`.
   */
  createdEntrySql(
    manager: Pick<EntityManager, 'connection'>,
    definition: AuditedResource,
    principal: Principal | undefined,
    params: unknown[],
    sql: { source: string; recordId: string; changes: string },
  ): string {
    const add = (value: unknown): string => `$${params.push(value)}`;
    const values = [
      `${add(principal?.userId ?? null)}::int`,
      `${add(principal?.email ?? null)}::varchar`,
      `${add(viaOf(principal))}::varchar`,
      `${add(definition.path)}::varchar`,
      sql.recordId,
      `${add('create')}::varchar`,
      'NULL',
      sql.changes,
    ];
    return `${this.prefix(manager)} SELECT ${values.join(', ')} FROM ${sql.source} RETURNING id, changes`;
  }

  /**
   * Rewrites a created record's entry when the database's `changes` (createdEntrySql) differ from
   * `diff(null, row)` as JavaScript renders the row (a float or timestamp printed otherwise): the history
   * always reads as `recordWrite` would have written it. Best-effort, never throws: the entry and its record
   * are committed already, and failing here would answer an error for a create that happened (a client
   * retrying it would create the record twice). A failed rewrite is logged with the entry's id.
   */
  async correctChanges(
    manager: Pick<EntityManager, 'query' | 'connection'>,
    definition: AuditedResource,
    entry: { id: string; changes: unknown },
    row: AuditedRow,
  ): Promise<void> {
    const expected = diff(null, row, this.omittedFields(definition));
    if (sameJson(expected, entry.changes)) {
      return;
    }
    try {
      const table = tableOf(manager.connection.getMetadata(AuditEntry));
      await manager.query(`UPDATE ${table} SET changes = $2::jsonb WHERE id = $1`, [
        entry.id,
        JSON.stringify(expected),
      ]);
    } catch (error) {
      this.logger.warn(
        `audit entry ${entry.id} (create of ${definition.path}) keeps the changes the database wrote, ` +
          `its correction failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /**
   * Fields a resource's history never shows: hidden and write-only ones, secret-looking names, and the
   * bookkeeping columns the entry itself covers (the id, created/updated timestamps, the version).
   */
  omittedFields(definition: AuditedResource): ReadonlySet<string> {
    let omitted = this.omitted.get(definition);
    if (!omitted) {
      const { metadata } = definition;
      const bookkeeping = [
        definition.id.name,
        metadata.createDateColumn?.propertyName,
        metadata.updateDateColumn?.propertyName,
        metadata.versionColumn?.propertyName,
      ];
      omitted = new Set([
        ...bookkeeping.filter((name): name is string => name !== undefined),
        ...[...definition.fields.values()]
          .filter((field) => !field.readable || isSecretField(field.name))
          .map((field) => field.name),
        ...metadata.columns
          .map((column) => column.propertyName)
          .filter((name) => !definition.fields.has(name)),
      ]);
      this.omitted.set(definition, omitted);
    }
    return omitted;
  }

  private prefix(manager: Pick<EntityManager, 'connection'>): string {
    if (!this.insertPrefix) {
      const metadata = manager.connection.getMetadata(AuditEntry);
      const columns = COLUMNS.map((name) => ident(metadata.findColumnWithPropertyName(name)!.databaseName));
      this.insertPrefix = `INSERT INTO ${tableOf(metadata)} (${columns.join(', ')})`;
    }
    return this.insertPrefix;
  }
}
