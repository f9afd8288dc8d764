import type { EntityManager } from 'typeorm';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';
import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import type { Principal } from 'src/framework/access/principal';
import { ident } from 'src/framework/database/sql';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { entityColumnList, notDeleted, relationLink, selectList } from 'src/framework/resource/resource-sql';
import { withoutHelpers } from 'src/framework/resource/resource-rows';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';

export type Queryable = Pick<EntityManager, 'query'>;

/** What loading includes needs from the service: the resources by entity and who may see which rows. */
export interface IncludeScope {
  forEntity(target: unknown): ResourceDefinition | undefined;
  /** The owner id the caller is limited to on an owned resource (see ResourceService.ownerScope). */
  ownerScope(definition: ResourceDefinition, principal: Principal | undefined): unknown;
}

function topLevel(include: readonly string[]): string[] {
  return [...new Set(include.map((path) => path.split('.')[0]))];
}

/** Helper columns carrying each included relation's owner key (`__o_<relation>`). */
export function includeOwners(definition: ResourceDefinition, include: readonly string[]): string[] {
  return topLevel(include).map((name) => {
    const link = relationLink(definition.relations.get(name)!, 0);
    return `t.${ident(link.ownerColumn.databaseName)} AS ${ident(`__o_${name}`)}`;
  });
}

/**
 * The related rows of one relation for the given owner keys, with the helper columns nested includes need;
 * each row's `__owner` is the key it belongs to. One statement for any number of keys (also GraphQL's
 * relation loaders). Example: `relatedRows(dataSource, scope, relation, [1, 2], [], principal)`.
 */
export async function relatedRows(
  manager: Queryable,
  scope: IncludeScope,
  relation: RelationMetadata,
  keys: unknown[],
  nested: readonly string[],
  principal: Principal | undefined,
): Promise<ResourceRow[]> {
  const target = relation.inverseEntityMetadata;
  const targetDefinition = scope.forEntity(target.target);
  const link = relationLink(relation, 1);
  const nestedOwners = topLevel(nested).map((n) => {
    const inner = relationLink(
      target.relations.find((r) => r.propertyName === n)!,
      0,
    );
    return `${link.alias}.${ident(inner.ownerColumn.databaseName)} AS ${ident(`__o_${n}`)}`;
  });
  const columns = targetDefinition
    ? selectList(targetDefinition.readable, link.alias)
    : entityColumnList(target, link.alias);
  // An owned target is limited to the caller's rows, as its own routes would be.
  const targetOwner = targetDefinition && scope.ownerScope(targetDefinition, principal);
  const ownedOnly =
    targetOwner !== undefined
      ? ` AND ${link.alias}.${ident(targetDefinition!.owner!.column!.databaseName)} = $2`
      : '';
  if (keys.length === 0) {
    return [];
  }
  return manager.query<ResourceRow[]>(
    `SELECT ${[columns, ...nestedOwners, `${link.key} AS "__owner"`].join(', ')} FROM ${link.from} WHERE ${
      link.key
    } = ANY($1)${link.many ? notDeleted(target, link.alias) : ''}${ownedOnly} ORDER BY ${link.alias}.${ident(
      target.primaryColumns[0].databaseName,
    )}`,
    targetOwner !== undefined ? [keys, targetOwner] : [keys],
  );
}

/** Sets `row[name]` on each row: its related rows (to-many) or the one related row or null (to-one). */
function attach(rows: ResourceRow[], name: string, related: ResourceRow[], many: boolean): void {
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
    row[name] = many ? found : (found[0] ?? null);
  }
}

/**
 * Loads included relations for a page of rows: one batched query per relation path, never one per row,
 * so the statement count is constant whatever the page size.
 */
export async function loadIncludes(
  manager: Queryable,
  scope: IncludeScope,
  definition: ResourceDefinition | undefined,
  rows: ResourceRow[],
  include: readonly string[],
  principal: Principal | undefined,
  metadata: EntityMetadata | undefined = definition?.metadata,
): Promise<void> {
  if (rows.length === 0 || include.length === 0 || !metadata) {
    return;
  }
  for (const name of topLevel(include)) {
    const relation = metadata.relations.find((r) => r.propertyName === name)!;
    const nested = include.filter((p) => p.startsWith(`${name}.`)).map((p) => p.slice(name.length + 1));
    const keys = [
      ...new Set(rows.map((row) => row[`__o_${name}`]).filter((k) => k !== null && k !== undefined)),
    ];
    const related = await relatedRows(manager, scope, relation, keys, nested, principal);
    const target = relation.inverseEntityMetadata;
    await loadIncludes(manager, scope, scope.forEntity(target.target), related, nested, principal, target);
    attach(rows, name, related, relationLink(relation, 1).many);
  }
}
