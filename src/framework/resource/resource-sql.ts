import type { EntityMetadata, RelationMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { ident, tableOf } from 'src/framework/database/sql';
import type { FieldType, FilterTerm, SortTerm, Trashed } from 'src/framework/resource/query-types';
import type {
  FieldPath,
  ResourceDefinition,
  ResourceField,
} from 'src/framework/resource/resource-definition';

/** Collects positional parameters ($1, $2 …) while a statement is being built. */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * How rows of a relation's target join to their owner: `from` (target aliased `r<n>`, with a junction
 * `j<n>` for many-to-many), `key` the target-side expression that equals the owner's `ownerColumn`.
 */
export interface RelationLink {
  from: string;
  key: string;
  /** The target's column `key` reads (`r<n>."col"`); undefined when it is the junction's. */
  keyColumn?: ColumnMetadata;
  ownerColumn: ColumnMetadata;
  alias: string;
  many: boolean;
  /**
   * Many-to-many only, when the junction alone answers which targets a row links to: its column holding the
   * target's primary key (`j<n>."col"`) and the junction table (`"table" j<n>`). See `junctionHoldsTargets`.
   */
  junction?: { from: string; targetKey: string };
}

/** Links already built, by relation then alias number: lists and includes ask for the same ones per request. */
const links = new WeakMap<RelationMetadata, RelationLink[]>();

/**
 * The join between a relation's owner and its target, for EXISTS filters and batched include loading.
 * Built once per relation and alias number: treat it as read-only.
 */
export function relationLink(relation: RelationMetadata, n: number): RelationLink {
  let byAlias = links.get(relation);
  if (!byAlias) {
    byAlias = [];
    links.set(relation, byAlias);
  }
  return (byAlias[n] ??= buildLink(relation, n));
}

function buildLink(relation: RelationMetadata, n: number): RelationLink {
  const target = relation.inverseEntityMetadata;
  const alias = `r${n}`;
  const from = `${tableOf(target)} ${alias}`;
  if (relation.isManyToOne || (relation.isOneToOne && relation.isOwning)) {
    const join = relation.joinColumns[0];
    return {
      from,
      key: `${alias}.${ident(join.referencedColumn!.databaseName)}`,
      keyColumn: join.referencedColumn!,
      ownerColumn: join,
      alias,
      many: false,
    };
  }
  if (relation.isManyToMany) {
    const owning = relation.isOwning ? relation : relation.inverseRelation!;
    const ownerSide = relation.isOwning ? owning.joinColumns[0] : owning.inverseJoinColumns[0];
    const targetSide = relation.isOwning ? owning.inverseJoinColumns[0] : owning.joinColumns[0];
    const junction = `j${n}`;
    const junctionTable = `${tableOf(owning.junctionEntityMetadata!)} ${junction}`;
    const targetKey = `${junction}.${ident(targetSide.databaseName)}`;
    return {
      from: `${junctionTable} JOIN ${from} ON ${alias}.${ident(
        targetSide.referencedColumn!.databaseName,
      )} = ${targetKey}`,
      key: `${junction}.${ident(ownerSide.databaseName)}`,
      ownerColumn: ownerSide.referencedColumn!,
      alias,
      many: true,
      ...(junctionHoldsTargets(owning.junctionEntityMetadata!, targetSide, target)
        ? { junction: { from: junctionTable, targetKey } }
        : {}),
    };
  }
  // One-to-many, or the inverse side of a one-to-one: the target holds the foreign key.
  const inverse = relation.inverseRelation!.joinColumns[0];
  return {
    from,
    key: `${alias}.${ident(inverse.databaseName)}`,
    keyColumn: inverse,
    ownerColumn: inverse.referencedColumn!,
    alias,
    many: relation.isOneToMany,
  };
}

/**
 * Whether a junction's target column tells exactly which targets a row links to, so the target's table need
 * not be joined: the column references the target's primary key under a foreign key (no link to a row that
 * does not exist), and the target does not soft-delete (no link to hide). On a 20-row page with one
 * many-to-many id array, skipping the join cut PostgreSQL's CPU for the SELECT from about 365 to 150 µs: it
 * hashed the target's table once per row.
 */
function junctionHoldsTargets(
  junction: EntityMetadata,
  targetSide: ColumnMetadata,
  target: EntityMetadata,
): boolean {
  return (
    !target.deleteDateColumn &&
    target.primaryColumns.length === 1 &&
    targetSide.referencedColumn === target.primaryColumns[0] &&
    junction.foreignKeys.some(
      (key) =>
        key.referencedEntityMetadata === target &&
        key.columns.length === 1 &&
        key.columns[0] === targetSide &&
        key.referencedColumns[0] === target.primaryColumns[0],
    )
  );
}

/** `AND <alias>."deletedAt" IS NULL` when the entity soft-deletes, so hidden rows stay hidden everywhere. */
export function notDeleted(metadata: EntityMetadata, alias: string): string {
  return metadata.deleteDateColumn
    ? ` AND ${alias}.${ident(metadata.deleteDateColumn.databaseName)} IS NULL`
    : '';
}

/** Escapes LIKE wildcards so `contains=50%` means the characters "50%". */
function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The SQL type a parameter must be cast to when it cannot be inferred (arrays, to_char'd cursor values). */
function comparison(expr: string, op: FilterTerm['op'], value: unknown, params: Params): string {
  switch (op) {
    case 'eq':
      return `${expr} = ${params.add(value)}`;
    case 'ne':
      return `${expr} IS DISTINCT FROM ${params.add(value)}`;
    case 'gt':
      return `${expr} > ${params.add(value)}`;
    case 'gte':
      return `${expr} >= ${params.add(value)}`;
    case 'lt':
      return `${expr} < ${params.add(value)}`;
    case 'lte':
      return `${expr} <= ${params.add(value)}`;
    case 'in':
      return `${expr} = ANY(${params.add(value)})`;
    case 'nin':
      return `(${expr} IS NULL OR ${expr} <> ALL(${params.add(value)}))`;
    case 'contains':
      return `${expr} LIKE ${params.add(`%${likeEscape(String(value))}%`)}`;
    case 'icontains':
      return `${expr} ILIKE ${params.add(`%${likeEscape(String(value))}%`)}`;
    case 'startswith':
      return `${expr} LIKE ${params.add(`${likeEscape(String(value))}%`)}`;
    case 'isnull':
      return value === true ? `${expr} IS NULL` : `${expr} IS NOT NULL`;
    case 'between': {
      const [low, high] = value as [unknown, unknown];
      return `${expr} BETWEEN ${params.add(low)} AND ${params.add(high)}`;
    }
  }
}

/**
 * Datetimes are stored to the microsecond but rendered in JSON (and parsed from filter values) to the
 * millisecond, so a filter value v stands for its whole millisecond [v, v + 1 ms): comparisons behave as on
 * the column truncated to milliseconds, and a row is found by the timestamp it was shown with. Written as
 * ranges so an index on the column stays usable. `gte`, `lt` and `isnull` are exact already (undefined).
 */
function datetimeComparison(
  expr: string,
  op: FilterTerm['op'],
  value: unknown,
  params: Params,
): string | undefined {
  const next = (date: Date): Date => new Date(date.getTime() + 1);
  const within = (date: Date): string =>
    `(${expr} >= ${params.add(date)} AND ${expr} < ${params.add(next(date))})`;
  switch (op) {
    case 'eq':
      return within(value as Date);
    case 'ne':
      return `(${expr} IS NULL OR NOT ${within(value as Date)})`;
    case 'gt':
      return `${expr} >= ${params.add(next(value as Date))}`;
    case 'lte':
      return `${expr} < ${params.add(next(value as Date))}`;
    case 'in':
      return `(${(value as Date[]).map(within).join(' OR ')})`;
    case 'nin':
      return `(${expr} IS NULL OR NOT (${(value as Date[]).map(within).join(' OR ')}))`;
    case 'between': {
      const [low, high] = value as [Date, Date];
      return `(${expr} >= ${params.add(low)} AND ${expr} < ${params.add(next(high))})`;
    }
    default:
      return undefined;
  }
}

/** A condition on a column reached through relations: nested EXISTS, so to-many paths never duplicate rows. */
function pathCondition(path: FieldPath, build: (expr: string) => string, counter: { n: number }): string {
  const walk = (index: number, ownerAlias: string): string => {
    if (index === path.relations.length) {
      return build(`${ownerAlias}.${ident(path.column.databaseName)}`);
    }
    const relation = path.relations[index];
    const link = relationLink(relation, ++counter.n);
    return `EXISTS (SELECT 1 FROM ${link.from} WHERE ${link.key} = ${ownerAlias}.${ident(
      link.ownerColumn.databaseName,
    )}${notDeleted(relation.inverseEntityMetadata, link.alias)} AND ${walk(index + 1, link.alias)})`;
  };
  return walk(0, 't');
}

/**
 * The row's soft-delete condition on alias `t`: live rows (the default), `only` deleted ones, or none for
 * `with` (and for resources without soft delete).
 */
export function trashedCondition(definition: ResourceDefinition, trashed?: Trashed): string | undefined {
  if (!definition.deleteDateColumn || trashed === 'with') {
    return undefined;
  }
  return `t.${ident(definition.deleteDateColumn.databaseName)} ${trashed === 'only' ? 'IS NOT NULL' : 'IS NULL'}`;
}

/** The WHERE conditions of a list (without the cursor): soft delete (see `trashed`), filters and search. */
export function whereClause(
  definition: ResourceDefinition,
  filters: readonly FilterTerm[],
  q: string | undefined,
  params: Params,
  trashed?: Trashed,
): string[] {
  const conditions: string[] = [];
  const counter = { n: 0 };
  const deleted = trashedCondition(definition, trashed);
  if (deleted) {
    conditions.push(deleted);
  }
  for (const filter of filters) {
    const path = definition.paths.get(filter.path)!;
    const build = (expr: string): string =>
      (path.spec.type === 'datetime'
        ? datetimeComparison(expr, filter.op, filter.value, params)
        : undefined) ?? comparison(expr, filter.op, filter.value, params);
    conditions.push(pathCondition(path, build, counter));
  }
  if (q !== undefined && q !== '' && definition.search.length > 0) {
    const pattern = params.add(`%${likeEscape(q)}%`);
    conditions.push(
      `(${definition.search.map((path) => pathCondition(path, (expr) => `${expr} ILIKE ${pattern}`, counter)).join(' OR ')})`,
    );
  }
  return conditions;
}

/**
 * Timestamps sort at microsecond precision; the cursor carries them as ISO text so none is lost. A
 * `timestamptz` is written in UTC; a `timestamp` (without time zone) as its own wall-clock time, since
 * `AT TIME ZONE` would read it as UTC and to_char would then shift it by the session's offset. Both are
 * compared back as written: PostgreSQL ignores the `Z` when it reads a `timestamp`.
 */
function cursorExpression(expr: string, column: ColumnMetadata, type: FieldType): string {
  if (type === 'date') {
    return `${expr}::text`;
  }
  if (type !== 'datetime') {
    return expr;
  }
  const zoned =
    column.entityMetadata.connection.driver.normalizeType(column) !== 'timestamp without time zone';
  return `to_char(${expr}${zoned ? " AT TIME ZONE 'UTC'" : ''}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** ORDER BY for the sort; NULLs sort as the largest values (PostgreSQL's default), which the cursor mirrors. */
export function orderBy(definition: ResourceDefinition, sort: readonly SortTerm[]): string {
  return sort
    .map(
      (term) =>
        `t.${ident(definition.paths.get(term.path)!.column.databaseName)} ${term.direction === 'desc' ? 'DESC' : 'ASC'}`,
    )
    .join(', ');
}

/**
 * The `i`th sort key selected as `__k<i>`, so the last row of a page can become `meta.nextCursor` (when no
 * selected field holds it: `sortKeyField`).
 */
export function cursorColumn(definition: ResourceDefinition, term: SortTerm, i: number): string {
  const path = definition.paths.get(term.path)!;
  return `${cursorExpression(`t.${ident(path.column.databaseName)}`, path.column, path.spec.type)} AS "__k${i}"`;
}

/**
 * Keyset condition "strictly after these sort values": (a > x) OR (a = x AND b > y) …, with NULL treated
 * as larger than every value so it agrees with ORDER BY. It is led by a range on the first sort column
 * (`a <= x` descending; `a >= x` ascending when `a` cannot be NULL), which the OR alone does not give the
 * planner: with it an index on `a` starts the scan at the cursor, so a deep page costs what page 1 does
 * (at 1M rows: 0.1 ms instead of 775 ms spent filtering the 800k rows before the cursor).
 */
export function afterCondition(
  definition: ResourceDefinition,
  sort: readonly SortTerm[],
  values: readonly unknown[],
  params: Params,
): string {
  const alternatives: string[] = [];
  for (let i = 0; i < sort.length; i++) {
    const parts: string[] = [];
    for (let k = 0; k < i; k++) {
      const expr = `t.${ident(definition.paths.get(sort[k].path)!.column.databaseName)}`;
      parts.push(values[k] === null ? `${expr} IS NULL` : `${expr} = ${params.add(values[k])}`);
    }
    const expr = `t.${ident(definition.paths.get(sort[i].path)!.column.databaseName)}`;
    const value = values[i];
    const ascending = sort[i].direction === 'asc';
    let after: string;
    if (value === null) {
      // NULLs are last ascending (nothing is after them) and first descending (every value is after them).
      after = ascending ? 'FALSE' : `${expr} IS NOT NULL`;
    } else {
      after = ascending
        ? `(${expr} > ${params.add(value)} OR ${expr} IS NULL)`
        : `${expr} < ${params.add(value)}`;
    }
    parts.push(after);
    alternatives.push(`(${parts.join(' AND ')})`);
  }
  const condition = `(${alternatives.join(' OR ')})`;
  const first = sort.length > 0 ? definition.paths.get(sort[0].path)! : undefined;
  if (!first || values[0] === null || values[0] === undefined) {
    return condition;
  }
  const expr = `t.${ident(first.column.databaseName)}`;
  if (sort[0].direction === 'desc') {
    return `(${expr} <= ${params.add(values[0])} AND ${condition})`;
  }
  return first.spec.nullable ? condition : `(${expr} >= ${params.add(values[0])} AND ${condition})`;
}

/** The first field of `fields` reading `column` as a plain value (not a to-many id list), dates or not. */
function fieldReading(
  fields: readonly ResourceField[],
  column: ColumnMetadata,
  date: boolean,
): string | undefined {
  for (const field of fields) {
    if (
      field.kind !== 'toManyIds' &&
      (field.type === 'date') === date &&
      field.column?.databaseName === column.databaseName
    ) {
      return field.name;
    }
  }
  return undefined;
}

/**
 * The field of `fields` that `selectFields` writes as `column` itself (`t."col" AS "name"`, not `::text`), so a
 * row read with them holds the column's own value under that name: what a helper column (`t."col" AS "__…"`)
 * would hold. Example: `plainField(definition.readable, categoryColumn)` → `'categoryId'`.
 */
export function plainField(fields: readonly ResourceField[], column: ColumnMetadata): string | undefined {
  return fieldReading(fields, column, false);
}

/**
 * The field of `fields` holding a sort path's cursor value as `cursorColumn` would select it, or undefined
 * (then a helper column carries it): timestamps never (the cursor keeps microseconds, a row's Date only
 * milliseconds), dates when the field reads them as text too, other own columns when selected.
 */
export function sortKeyField(fields: readonly ResourceField[], path: FieldPath): string | undefined {
  const type = path.spec.type;
  if (type === 'datetime' || path.relations.length > 0) {
    return undefined;
  }
  return fieldReading(fields, path.column, type === 'date');
}

/** SELECT list items for fields of the API representation (`t."col" AS "name"`; `AS "<prefix>name"`). */
function selectFields(fields: readonly ResourceField[], alias = 't', prefix = ''): string[] {
  return fields.map((field) => {
    if (field.kind === 'toManyIds') {
      const link = relationLink(field.relation!, 0);
      const owner = `${alias}.${ident(link.ownerColumn.databaseName)}`;
      if (link.junction) {
        const id = link.junction.targetKey;
        return `ARRAY(SELECT ${id} FROM ${link.junction.from} WHERE ${link.key} = ${owner} ORDER BY ${id}) AS ${ident(prefix + field.name)}`;
      }
      const target = field.relation!.inverseEntityMetadata;
      const pk = `${link.alias}.${ident(target.primaryColumns[0].databaseName)}`;
      return `ARRAY(SELECT ${pk} FROM ${link.from} WHERE ${link.key} = ${owner}${notDeleted(
        target,
        link.alias,
      )} ORDER BY ${pk}) AS ${ident(prefix + field.name)}`;
    }
    const column = `${alias}.${ident(field.column!.databaseName)}`;
    return `${column}${textCast(field)} AS ${ident(prefix + field.name)}`;
  });
}

/** Column types whose arrays node-postgres cannot parse (their type is the database's own): read as text[]. */
const UNPARSED_ARRAYS: ReadonlySet<unknown> = new Set(['enum', 'simple-enum', 'citext']);

/**
 * How a field's column is read so that node-postgres gives the API's value: a DATE as text (read as a Date it
 * becomes local midnight; as text it stays the calendar day), and an array of dates, enum values or citext
 * as text[] (an array of a type node-postgres has no parser for arrives as its literal, `{a,b}`).
 */
function textCast(field: ResourceField): string {
  const column = field.column!;
  if (column.isArray && (field.type === 'date' || UNPARSED_ARRAYS.has(column.type))) {
    return '::text[]';
  }
  return field.type === 'date' ? '::text' : '';
}

/** Columns of an entity that is not itself a resource, for includes: every column by property name. */
function selectEntityColumns(metadata: EntityMetadata, alias: string): string[] {
  return metadata.columns
    .filter((c) => !c.isVirtualProperty) // a @VirtualColumn is a subquery, not a column of the table
    .map((c) => `${alias}.${ident(c.databaseName)} AS ${ident(c.propertyName)}`);
}

/**
 * Joined select lists by what they select (a definition's `readable` array, an entity's metadata), then
 * alias: lists and includes would otherwise build the same text on every request.
 */
const selectLists = new WeakMap<object, Map<string, string>>();

function remembered(owner: object, alias: string, build: () => string[]): string {
  let byAlias = selectLists.get(owner);
  if (!byAlias) {
    byAlias = new Map();
    selectLists.set(owner, byAlias);
  }
  let list = byAlias.get(alias);
  if (list === undefined) {
    list = build().join(', ');
    byAlias.set(alias, list);
  }
  return list;
}

/**
 * `selectFields(fields, alias, prefix)` joined with `, `, built once per fields array, alias and prefix: pass an array kept
 * for the process (a definition's `readable`), or a per-request array the list then dies with.
 * Example: `SELECT ${selectList(definition.readable)} FROM …`.
 */
export function selectList(fields: readonly ResourceField[], alias = 't', prefix = ''): string {
  return remembered(fields, `${alias}|${prefix}`, () => selectFields(fields, alias, prefix));
}

/** `selectEntityColumns(metadata, alias)` joined with `, `, built once per entity and alias. */
export function entityColumnList(metadata: EntityMetadata, alias: string): string {
  return remembered(metadata, alias, () => selectEntityColumns(metadata, alias));
}
