import type { EntityManager } from 'typeorm';
import { ident, tableOf } from 'src/framework/database/sql';
import { checkIfMatch, notFound } from 'src/framework/resource/resource-rows';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import {
  type JoinedIncludes,
  NOTHING_JOINED,
  type Queryable,
  includeOwners,
} from 'src/framework/resource/include-loader';
import type { Trashed } from 'src/framework/resource/query-types';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { selectList, trashedCondition } from 'src/framework/resource/resource-sql';

/**
 * Reads one row of a resource, with the statements built once per shape: the same string object each time
 * also keeps the prepared-statement lookup cheap (see PreparedStatements).
 */
export class RowReader {
  private readonly readOneStatements = new Map<string, string>();

  constructor(private readonly definition: ResourceDefinition) {}

  /**
   * One row's full representation (plus include helper columns, and the columns of the `joined` includes) by
   * id (`$1`), owner (`$2`) if `owned`.
   */
  readOneSql(
    lock: boolean,
    trashed: Trashed | undefined,
    helpers: readonly string[],
    owned: boolean,
    joined: JoinedIncludes = NOTHING_JOINED,
  ): string {
    const key = `${lock ? 'l' : ''}|${trashed ?? ''}|${owned ? 'o' : ''}|${helpers.join(',')}|${joined.key}`;
    let sql = this.readOneStatements.get(key);
    if (sql === undefined) {
      const definition = this.definition;
      const select = [
        selectList(definition.readable),
        ...includeOwners(definition, helpers, definition.readable, joined),
        ...joined.columns,
      ];
      const condition = trashedCondition(definition, trashed);
      const deleted = condition ? ` AND ${condition}` : '';
      const ownedBy = owned ? ` AND t.${ident(definition.owner!.column!.databaseName)} = $2` : '';
      sql = `SELECT ${select.join(', ')} FROM ${tableOf(definition.metadata)} t${joined.joins} WHERE t.${ident(
        definition.id.column!.databaseName,
      )} = $1${deleted}${ownedBy}${lock ? ' FOR UPDATE OF t' : ''}`;
      // Include paths come from an allow-list, so the shapes are few; the bound is only a safeguard.
      if (this.readOneStatements.size < 200) {
        this.readOneStatements.set(key, sql);
      }
    }
    return sql;
  }

  /** The RETURNING list of a create: readOne's columns, on the table INSERT names (it takes no alias). */
  createdRowSql(): string {
    return selectList(this.definition.readable, ident(this.definition.metadata.tableName));
  }

  /** The row locked FOR UPDATE for a change: 404 when not found (or not the caller's), 412 on a stale If-Match. */
  async lockCurrent(
    manager: EntityManager,
    id: unknown,
    ifMatch: string | undefined,
    ownerId: unknown,
  ): Promise<ResourceRow> {
    const current = await this.readOne(manager, id, { lock: true, ownerId });
    if (!current) {
      throw notFound(this.definition, id);
    }
    checkIfMatch(this.definition, current, ifMatch);
    return current;
  }

  /**
   * Reads one row's full representation (plus include helper columns and `joined` includes' columns),
   * optionally locked FOR UPDATE.
   * Live rows only unless `trashed` says otherwise.
   */
  async readOne(
    manager: Queryable,
    id: unknown,
    options: {
      lock?: boolean;
      trashed?: Trashed;
      helpers?: string[];
      ownerId?: unknown;
      joined?: JoinedIncludes;
    } = {},
  ): Promise<ResourceRow | undefined> {
    const owned = options.ownerId !== undefined;
    const rows = await manager.query<ResourceRow[]>(
      this.readOneSql(options.lock === true, options.trashed, options.helpers ?? [], owned, options.joined),
      owned ? [id, options.ownerId] : [id],
    );
    return rows[0];
  }
}
