import type { DataSource } from 'typeorm';
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

/** A field's value in the created row as the API writes it in JSON (the audit entry's `changes`). */
function jsonOf(field: ResourceField, column: string): string {
  switch (field.type) {
    case 'decimal':
    case 'bigint':
    case 'uuid':
    case 'enum':
      return `to_jsonb(${column}::text)`; // node-postgres reads these as strings
    case 'datetime':
      return `to_jsonb(to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
    default:
      return `to_jsonb(${column})`;
  }
}

/**
 * Creates a resource's row and its audit entry in one statement, `WITH created AS (INSERT … RETURNING …),
 * entry AS (INSERT INTO audit_entry … SELECT … FROM created)`: atomic without BEGIN and COMMIT, so one
 * round trip instead of four (BEGIN, INSERT, audit INSERT, COMMIT). Used when nothing needs the row
 * between the two inserts: no create hooks, no to-many links, references left to foreign keys, no entity
 * listener or subscriber that watches the INSERT or its transaction, no Idempotency-Key claim (which is
 * marked inside the write's transaction), on a PostgreSQL server. The INSERT is TypeORM's own (defaults,
 * version column, transformers), built once per set of columns given (InsertStatements); the entry's `changes` are computed by the database and checked against
 * `diff(null, row)` afterwards (AuditService.correctChanges). The statement is prepared (PreparedStatements)
 * unless a subscriber watches it through TypeORM's query events: an INSERT's generic plan suits every value,
 * and PostgreSQL's CPU per product create in `npm run bench` went from 944 to 518 µs.
 */
export class OneStatementCreate {
  private changesSql?: string;
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
      changes: this.changes(),
    });
    const text = `WITH created AS (${insert}), entry AS (${entry})
       SELECT created.*, entry.id AS "__entryId", entry.changes AS "__entryChanges" FROM created, entry`;
    // Prepared, unless a subscriber watches its query events (PreparedStatements then runs it in the runner).
    const rows = await this.statements.query<ResourceRow[]>(text, params);
    const row = withoutHelpers(rows[0]);
    await this.audit.correctChanges(
      dataSource.manager,
      definition,
      { id: String(rows[0].__entryId), changes: rows[0].__entryChanges },
      row,
    );
    return row;
  }

  /** `diff(null, row)` in SQL: the created row's shown fields that hold a value, as `[null, value]`. */
  private changes(): string {
    if (this.changesSql === undefined) {
      const omitted = this.audit.omittedFields(this.definition);
      const pairs = this.definition.readable
        .filter((field) => !omitted.has(field.name) && !isSecretField(field.name))
        .map(
          (field) => `'${field.name.replace(/'/g, "''")}', ${jsonOf(field, `created.${ident(field.name)}`)}`,
        );
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
