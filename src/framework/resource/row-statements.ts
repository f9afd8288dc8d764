import { ident, tableOf } from 'src/framework/database/sql';
import { includeOwners } from 'src/framework/resource/include-loader';
import type { Trashed } from 'src/framework/resource/query-types';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { selectFields, trashedCondition } from 'src/framework/resource/resource-sql';

/**
 * The statements that read one row of a resource, built once per shape: the same string object each time
 * also keeps the prepared-statement lookup cheap (see PreparedReads).
 */
export class RowStatements {
  private readonly readOne = new Map<string, string>();
  private created?: string;

  constructor(private readonly definition: ResourceDefinition) {}

  /** One row's full representation (plus include helper columns) by id (`$1`), owner (`$2`) if `owned`. */
  readOneSql(
    lock: boolean,
    trashed: Trashed | undefined,
    helpers: readonly string[],
    owned: boolean,
  ): string {
    const key = `${lock ? 'l' : ''}|${trashed ?? ''}|${owned ? 'o' : ''}|${helpers.join(',')}`;
    let sql = this.readOne.get(key);
    if (sql === undefined) {
      const definition = this.definition;
      const select = [...selectFields(definition.readable), ...includeOwners(definition, helpers)];
      const condition = trashedCondition(definition, trashed);
      const deleted = condition ? ` AND ${condition}` : '';
      const ownedBy = owned ? ` AND t.${ident(definition.owner!.column!.databaseName)} = $2` : '';
      sql = `SELECT ${select.join(', ')} FROM ${tableOf(definition.metadata)} t WHERE t.${ident(
        definition.id.column!.databaseName,
      )} = $1${deleted}${ownedBy}${lock ? ' FOR UPDATE OF t' : ''}`;
      // Include paths come from an allow-list, so the shapes are few; the bound is only a safeguard.
      if (this.readOne.size < 200) {
        this.readOne.set(key, sql);
      }
    }
    return sql;
  }

  /** The RETURNING list of a create: readOne's columns, on the table INSERT names (it takes no alias). */
  createdRowSql(): string {
    this.created ??= selectFields(this.definition.readable, ident(this.definition.metadata.tableName)).join(
      ', ',
    );
    return this.created;
  }
}
