import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { Principal } from 'src/framework/access/principal';
import type { AuditService } from 'src/framework/audit/audit.service';
import { serverPool } from 'src/framework/database/data-source-options';
import { ident } from 'src/framework/database/sql';
import { subscribersAllowStatement } from 'src/framework/database/statement-safe';
import { isSecretField } from 'src/framework/audit/audit-diff';
import { type ResourceInput, referencesEnforcedByDatabase } from 'src/framework/resource/resource-input';
import type { ResourceDefinition, ResourceField } from 'src/framework/resource/resource-definition';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import { InsertStatements } from 'src/framework/resource/insert-statements';
import { withoutHelpers } from 'src/framework/resource/resource-rows';
import type { PreparedStatements } from 'src/framework/resource/prepared-statements';

/** jsonb_build_object takes at most 100 arguments: 50 fields per call. */
const PAIRS_PER_CALL = 50;

/** A timestamp as Date's toJSON writes it. */
const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * Whether this process reads a `timestamp` (without time zone) as UTC: node-postgres reads it as local time,
 * so its JSON equals the column's own text only where local time is UTC all year.
 */
const LOCAL_TIME_IS_UTC =
  new Date(2000, 0, 1).getTimezoneOffset() === 0 && new Date(2000, 6, 1).getTimezoneOffset() === 0;

/**
 * Column types (TypeORM's normalized names) whose `to_jsonb` equals the JSON of what node-postgres gives
 * JavaScript for them, alone or as an array (ints and booleans as such, the others as their text).
 */
const AS_JSONB: ReadonlySet<string> = new Set([
  'smallint',
  'integer',
  'boolean',
  'text',
  'character varying',
  'character',
  'uuid',
  'json',
  'jsonb',
]);

/** Types node-postgres reads as their text (int8 and numeric to keep their digits), alone or in an array. */
const AS_TEXT: ReadonlySet<string> = new Set([
  'bigint',
  'money',
  'time without time zone',
  'time with time zone',
  'inet',
  'cidr',
  'macaddr',
]);

/**
 * Types without a parser in node-postgres (their oid is the database's own): alone, read as their text; an
 * array of them is selected as text[] (resource-sql's textCast), an array of strings.
 */
const UNPARSED: ReadonlySet<string> = new Set(['enum', 'citext']);

/**
 * A field's value in the created row (`column`) as the API writes it in JSON, i.e. as `diff(null, row)`
 * records it from what node-postgres read; undefined when SQL cannot render it exactly (an interval, a
 * point, bytea, a float or numeric array…): such a resource takes the ordinary create instead.
 */
function exactJson(dataSource: DataSource, field: ResourceField, column: string): string | undefined {
  if (field.type === 'date') {
    return `to_jsonb(${column})`; // the row holds it as text already (selectList), array or not
  }
  const typed: ColumnMetadata | undefined =
    field.kind === 'toManyIds' ? field.relation?.inverseEntityMetadata.primaryColumns[0] : field.column;
  if (!typed) {
    return undefined;
  }
  const type = dataSource.driver.normalizeType(typed);
  if (field.kind === 'toManyIds' || typed.isArray) {
    if (AS_JSONB.has(type)) {
      return `to_jsonb(${column})`;
    }
    if (AS_TEXT.has(type)) {
      return `to_jsonb(${column}::text[])`; // node-postgres reads int8[] etc. as arrays of strings
    }
    // Read as text[] already (the select list's textCast): an array of strings.
    return UNPARSED.has(type) ? `to_jsonb(${column})` : undefined;
  }
  if (AS_JSONB.has(type)) {
    return `to_jsonb(${column})`;
  }
  if (AS_TEXT.has(type) || UNPARSED.has(type) || type === 'numeric') {
    return `to_jsonb(${column}::text)`; // node-postgres reads these as strings
  }
  switch (type) {
    case 'real':
    case 'double precision':
      // JavaScript's NaN and ±Infinity are JSON null (unset); jsonb would write them as strings.
      return `CASE WHEN ${column} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE to_jsonb(${column}) END`;
    case 'timestamp with time zone':
      return `to_jsonb(to_char(${column} AT TIME ZONE 'UTC', ${ISO_MS}))`;
    case 'timestamp without time zone':
      return LOCAL_TIME_IS_UTC ? `to_jsonb(to_char(${column}, ${ISO_MS}))` : undefined;
    default:
      return undefined;
  }
}

/**
 * Creates a resource's row and its audit entry in one statement, `WITH created AS (INSERT … RETURNING …),
 * entry AS (INSERT INTO audit_entry … SELECT … FROM created)`: atomic without BEGIN and COMMIT, so one
 * round trip instead of four (BEGIN, INSERT, audit INSERT, COMMIT). Used when nothing needs the row
 * between the two inserts: no create hooks, no to-many links, references left to foreign keys, no entity
 * listener or subscriber that watches the INSERT or its transaction, no Idempotency-Key claim (which is
 * marked inside the write's transaction), on a PostgreSQL server. The INSERT is TypeORM's own (defaults,
 * version column, transformers), built once per set of columns given (InsertStatements). The entry's
 * `changes` are computed by the database, each field rendered as `diff(null, row)` renders what node-postgres
 * reads (exactJson): a resource with a field SQL cannot render so takes the ordinary create, because a second
 * statement to mend the entry would run after the commit, when its failure can no longer fail the create.
 * AuditService.correctChanges still checks the entry and mends it, best-effort, should a value slip through
 * (a float's text, a year past 9999). The statement is prepared (PreparedStatements)
 * unless a subscriber watches it through TypeORM's query events: an INSERT's generic plan suits every value,
 * and PostgreSQL's CPU per product create in `npm run bench` went from 944 to 518 µs.
 */
export class OneStatementCreate {
  /** The entry's `changes` in SQL; null when a field has no exact rendering (see exactJson). */
  private changesSql?: string | null;
  private readonly inserts: InsertStatements;

  constructor(
    private readonly dataSource: DataSource,
    private readonly definition: ResourceDefinition,
    private readonly audit: AuditService,
    private readonly statements: PreparedStatements,
  ) {
    this.inserts = new InsertStatements(dataSource, definition.metadata);
  }

  /** Whether `input` can be created this way (see the class comment). */
  applies(input: ResourceInput, inKeyedRequest: boolean): boolean {
    const { definition } = this;
    const { metadata, hooks } = definition;
    return (
      !inKeyedRequest &&
      this.changes() !== null &&
      !hooks.beforeCreate &&
      !hooks.afterCreate &&
      serverPool(this.dataSource) !== undefined &&
      metadata.beforeInsertListeners.length === 0 &&
      metadata.afterInsertListeners.length === 0 &&
      referencesEnforcedByDatabase(definition, input) &&
      subscribersAllowStatement(this.dataSource, metadata.target)
    );
  }

  /** Inserts the row and its entry; returns the row as `RowReader.readOne` reads it. */
  async create(
    input: ResourceInput,
    principal: Principal | undefined,
    returning: string,
  ): Promise<ResourceRow> {
    const { definition, dataSource } = this;
    const [insert, params] = this.inserts.build(input.values, returning);
    const entry = this.audit.createdEntrySql(dataSource.manager, definition, principal, params, {
      source: 'created',
      recordId: `created.${ident(definition.id.name)}::text`,
      changes: this.changes()!, // not null: applies() said so
    });
    const text = `WITH created AS (${insert}), entry AS (${entry})
       SELECT created.*, entry.id AS "__entryId", entry.changes AS "__entryChanges" FROM created, entry`;
    // Prepared, unless a subscriber watches its query events (PreparedStatements then runs it in the runner).
    const rows = await this.statements.query<ResourceRow[]>(text, params);
    const row = withoutHelpers(rows[0]);
    // Committed by now: correctChanges never throws (a failed mend is logged), so the create answers its success.
    await this.audit.correctChanges(
      dataSource.manager,
      definition,
      { id: String(rows[0].__entryId), changes: rows[0].__entryChanges },
      row,
    );
    return row;
  }

  /**
   * `diff(null, row)` in SQL: the created row's shown fields that hold a value, as `[null, value]`; null when
   * one of them has no exact rendering.
   */
  private changes(): string | null {
    if (this.changesSql === undefined) {
      const omitted = this.audit.omittedFields(this.definition);
      const pairs: string[] = [];
      for (const field of this.definition.readable) {
        if (omitted.has(field.name) || isSecretField(field.name)) {
          continue;
        }
        const json = exactJson(this.dataSource, field, `created.${ident(field.name)}`);
        if (json === undefined) {
          this.changesSql = null;
          return null;
        }
        pairs.push(`'${field.name.replace(/'/g, "''")}', ${json}`);
      }
      const objects: string[] = [];
      for (let start = 0; start < pairs.length; start += PAIRS_PER_CALL) {
        objects.push(`jsonb_build_object(${pairs.slice(start, start + PAIRS_PER_CALL).join(', ')})`);
      }
      const object = objects.length > 0 ? objects.join(' || ') : `'{}'::jsonb`;
      this.changesSql = `(SELECT COALESCE(jsonb_object_agg(e.key, jsonb_build_array(NULL, e.value)), '{}'::jsonb)
        FROM jsonb_each(${object}) e WHERE e.value NOT IN ('null'::jsonb, '[]'::jsonb))`;
    }
    return this.changesSql;
  }
}
