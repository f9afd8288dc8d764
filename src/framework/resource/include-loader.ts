import type { EntityManager } from 'typeorm';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';
import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import type { Principal } from 'src/framework/access/principal';
import { ident, tableOf } from 'src/framework/database/sql';
import type { ResourceDefinition, ResourceField } from 'src/framework/resource/resource-definition';
import {
  entityColumnList,
  notDeleted,
  plainField,
  relationLink,
  selectList,
} from 'src/framework/resource/resource-sql';
import { withoutHelpers } from 'src/framework/resource/resource-rows';
import { ShapeCache } from 'src/framework/resource/shape-cache';
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

/**
 * Where a row read with `fields` (undefined: helper columns only) holds `relation`'s owner key: the field
 * that reads the key column as it is, or the helper column `__o_<relation>` (`includeOwners`) when none does.
 */
function ownerKey(relation: RelationMetadata, fields: readonly ResourceField[] | undefined): string {
  return (
    (fields && plainField(fields, relationLink(relation, 0).ownerColumn)) ?? `__o_${relation.propertyName}`
  );
}

/**
 * Helper columns (`<alias>."col" AS "__o_<relation>"`) carrying the owner key of each of `relations` that no
 * field of `fields` (the columns read with them) already carries.
 */
function ownerHelpers(
  relations: readonly RelationMetadata[],
  fields: readonly ResourceField[] | undefined,
  alias: string,
): string[] {
  const helpers: string[] = [];
  for (const relation of relations) {
    const key = ownerKey(relation, fields);
    if (key.startsWith('__')) {
      helpers.push(`${alias}.${ident(relationLink(relation, 0).ownerColumn.databaseName)} AS ${ident(key)}`);
    }
  }
  return helpers;
}

/**
 * A to-one include that the statement of the rows reads itself, LEFT JOINed, instead of a statement of its
 * own after them: one statement and one round trip fewer for the same rows. Its target's fields are
 * the columns `__i<n>_<field>`, and `__i<n>` is its key, null when the row has no related row.
 */
export interface JoinedInclude {
  name: string;
  /** ` LEFT JOIN "target" i<n> ON i<n>."key" = t."fk"`. */
  join: string;
  /** The select list items of the target's fields and of its key. */
  columns: string;
  /** Where each target field is read from: [field name, column alias]. */
  reads: readonly (readonly [string, string])[];
  /** The column alias of the target's key. */
  present: string;
}

/** The to-one includes one statement joins (`joinedIncludes`), with what the statement and its caches need. */
export interface JoinedIncludes {
  /** Each joined relation, in `include`'s order. */
  each: readonly JoinedInclude[];
  /** Their names: part of the key a statement's text is kept under. */
  key: string;
  /** Their select list items, and their LEFT JOINs for the FROM clause. */
  columns: readonly string[];
  joins: string;
}

/** No include joined. */
export const NOTHING_JOINED: JoinedIncludes = { each: [], key: '', columns: [], joins: '' };

/** JoinedIncludes by definition, then the relations' names. */
const joinedLists = new ShapeCache<ResourceDefinition, JoinedIncludes>();

/**
 * The helper columns a statement read with `fields` needs to load `include` (`ownerHelpers`), but for the
 * `joined` relations, which the statement reads itself.
 */
export function includeOwners(
  definition: ResourceDefinition,
  include: readonly string[],
  fields: readonly ResourceField[] = definition.readable,
  joined: JoinedIncludes = NOTHING_JOINED,
): string[] {
  return ownerHelpers(
    topLevel(include)
      .filter((name) => !joined.each.some((j) => j.name === name))
      .map((name) => definition.relations.get(name)!),
    fields,
    't',
  );
}

/**
 * The top-level relations of `include` a statement of `definition`'s rows may read with a join
 * (`JoinedInclude`): to-one relations whose key is a column of the row's own table, to a resource the caller
 * sees every row of (an owned target is limited to the caller's rows by the statement of its own), with
 * nothing included below them. Soft-deleted targets are answered as the statement of their own answers them
 * (a to-one include does not hide them). Built once per definition and set of relations.
 * Example: `joinedIncludes(scope, products, ['category', 'tags'], principal)` → category's join.
 */
export function joinedIncludes(
  scope: IncludeScope,
  definition: ResourceDefinition,
  include: readonly string[],
  principal: Principal | undefined,
): JoinedIncludes {
  const joinable: string[] = [];
  for (const name of topLevel(include)) {
    const relation = definition.relations.get(name)!;
    if (!(relation.isManyToOne || (relation.isOneToOne && relation.isOwning))) {
      continue;
    }
    const target = scope.forEntity(relation.inverseEntityMetadata.target);
    if (
      target &&
      scope.ownerScope(target, principal) === undefined &&
      !include.some((p) => p.startsWith(`${name}.`))
    ) {
      joinable.push(name);
    }
  }
  if (joinable.length === 0) {
    return NOTHING_JOINED;
  }
  const key = joinable.join(',');
  return joinedLists.get(definition, key, () => {
    const each = joinable.map((name, n) =>
      joinedInclude(
        definition,
        scope.forEntity(definition.relations.get(name)!.inverseEntityMetadata.target)!,
        name,
        n,
      ),
    );
    return { each, key, columns: each.map((j) => j.columns), joins: each.map((j) => j.join).join('') };
  });
}

/** The JoinedInclude of `definition`'s relation `name` (to `target`) as the statement's `n`th join. */
function joinedInclude(
  definition: ResourceDefinition,
  target: ResourceDefinition,
  name: string,
  n: number,
): JoinedInclude {
  const link = relationLink(definition.relations.get(name)!, 0);
  const alias = `i${n}`;
  const prefix = `__i${n}_`;
  const key = `${alias}.${ident(link.keyColumn!.databaseName)}`;
  return {
    name,
    join: ` LEFT JOIN ${tableOf(target.metadata)} ${alias} ON ${key} = t.${ident(link.ownerColumn.databaseName)}`,
    columns: `${selectList(target.readable, alias, prefix)}, ${key} AS ${ident(`__i${n}`)}`,
    reads: target.readable.map((field) => [field.name, prefix + field.name] as const),
    present: `__i${n}`,
  };
}

/** Sets `row[joined.name]` on each row from the columns its own statement read (`JoinedInclude`). */
function attachJoined(rows: ResourceRow[], joined: JoinedInclude): void {
  const { name, reads, present } = joined;
  for (const row of rows) {
    if (row[present] === null) {
      row[name] = null;
      continue;
    }
    const related: ResourceRow = {};
    for (const [field, column] of reads) {
      related[field] = row[column];
    }
    row[name] = related;
  }
}

/** The statement of one relation's related rows, by shape, and where its rows hold what attaching reads. */
interface RelatedStatement {
  target: ResourceDefinition | undefined;
  sql: string;
  /** The property holding the owner key each row belongs to: a field, or the helper `__owner`. */
  owner: string;
  /** Whether the rows hold helper columns (`__…`), to drop before answering. */
  helpers: boolean;
}

/** Related-row statements by relation, then shape: the text was built again on every request. */
const statements = new ShapeCache<RelationMetadata, RelatedStatement>();

/**
 * The SELECT of `relation`'s related rows for `$1` (the owner keys) and, when `owned`, the caller's id
 * (`$2`), with the helper columns `nested` includes need. `always` selects every helper column (`__owner`,
 * each `__o_<nested>`), as `relatedRows` answers; otherwise only those no readable field of the target holds.
 */
function relatedStatement(
  relation: RelationMetadata,
  target: ResourceDefinition | undefined,
  nested: readonly string[],
  owned: boolean,
  always: boolean,
): RelatedStatement {
  const shape = `${owned ? 'o' : ''}${always ? 'a' : ''}|${nested.join(',')}`;
  return statements.get(
    relation,
    shape,
    () => {
      const metadata = relation.inverseEntityMetadata;
      const link = relationLink(relation, 1);
      const fields = always ? undefined : target?.readable;
      const helpers = ownerHelpers(
        topLevel(nested).map((n) => metadata.relations.find((r) => r.propertyName === n)!),
        fields,
        link.alias,
      );
      const owner = (fields && link.keyColumn && plainField(fields, link.keyColumn)) ?? '__owner';
      if (owner === '__owner') {
        helpers.push(`${link.key} AS "__owner"`);
      }
      const columns = target
        ? selectList(target.readable, link.alias)
        : entityColumnList(metadata, link.alias);
      const ownedOnly = owned ? ` AND ${link.alias}.${ident(target!.owner!.column!.databaseName)} = $2` : '';
      return {
        target,
        sql: `SELECT ${[columns, ...helpers].join(', ')} FROM ${link.from} WHERE ${link.key} = ANY($1)${
          link.many ? notDeleted(metadata, link.alias) : ''
        }${ownedOnly} ORDER BY ${link.alias}.${ident(metadata.primaryColumns[0].databaseName)}`,
        owner,
        helpers: helpers.length > 0,
      };
    },
    // Another app in the process (tests) may map the same relation's target to another definition.
    (known) => known.target === target,
  );
}

/** The statement for `relation`'s related rows as the caller may see them, and its `$2` when owned. */
function statementFor(
  scope: IncludeScope,
  relation: RelationMetadata,
  nested: readonly string[],
  principal: Principal | undefined,
  always: boolean,
): { statement: RelatedStatement; values: (keys: unknown[]) => unknown[] } {
  const target = scope.forEntity(relation.inverseEntityMetadata.target);
  // An owned target is limited to the caller's rows, as its own routes would be.
  const targetOwner = target && scope.ownerScope(target, principal);
  const owned = targetOwner !== undefined;
  return {
    statement: relatedStatement(relation, target, nested, owned, always),
    values: (keys) => (owned ? [keys, targetOwner] : [keys]),
  };
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
  const { statement, values } = statementFor(scope, relation, nested, principal, true);
  return keys.length === 0 ? [] : manager.query<ResourceRow[]>(statement.sql, values(keys));
}

/**
 * Sets `row[name]` on each row (its owner key at `rows`' `ownerKey`): its related rows (to-many) or the one
 * related row or null (to-one); related rows are matched by their `statement.owner`.
 */
function attach(
  rows: ResourceRow[],
  name: string,
  ownerKey: string,
  related: ResourceRow[],
  statement: RelatedStatement,
  many: boolean,
): void {
  const byOwner = new Map<string, ResourceRow[]>();
  for (const item of related) {
    const owner = String(item[statement.owner]);
    const answered = statement.helpers ? withoutHelpers(item) : item;
    const found = byOwner.get(owner);
    if (found) {
      found.push(answered);
    } else {
      byOwner.set(owner, [answered]);
    }
  }
  for (const row of rows) {
    const found = byOwner.get(String(row[ownerKey])) ?? [];
    row[name] = many ? found : (found[0] ?? null);
  }
}

/**
 * Loads included relations for a page of rows: one batched query per relation path, never one per row,
 * so the statement count is constant whatever the page size. `fields` are the fields the rows were read
 * with (`includeOwners` chose the helper columns by them); `joined` are the relations the rows' own
 * statement read (`JoinedInclude`).
 */
export async function loadIncludes(
  manager: Queryable,
  scope: IncludeScope,
  definition: ResourceDefinition | undefined,
  rows: ResourceRow[],
  include: readonly string[],
  principal: Principal | undefined,
  metadata: EntityMetadata | undefined = definition?.metadata,
  fields: readonly ResourceField[] | undefined = definition?.readable,
  joined: JoinedIncludes = NOTHING_JOINED,
): Promise<void> {
  if (rows.length === 0 || include.length === 0 || !metadata) {
    return;
  }
  for (const name of topLevel(include)) {
    // Attached in `include`'s order either way, so the answer's keys keep that order.
    const read = joined.each.find((j) => j.name === name);
    if (read) {
      attachJoined(rows, read);
      continue;
    }
    const relation = metadata.relations.find((r) => r.propertyName === name)!;
    const nested = include.filter((p) => p.startsWith(`${name}.`)).map((p) => p.slice(name.length + 1));
    const key = ownerKey(relation, fields);
    const keys = [...new Set(rows.map((row) => row[key]).filter((k) => k !== null && k !== undefined))];
    const { statement, values } = statementFor(scope, relation, nested, principal, false);
    const related = keys.length === 0 ? [] : await manager.query<ResourceRow[]>(statement.sql, values(keys));
    const target = relation.inverseEntityMetadata;
    await loadIncludes(manager, scope, statement.target, related, nested, principal, target);
    attach(rows, name, key, related, statement, relationLink(relation, 1).many);
  }
}
