import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { defaultOperators } from 'src/framework/resource/query/filters';
import { FILTER_OPERATORS, FieldSpec, FilterOperator, SortTerm } from 'src/framework/resource/query-types';
import {
  DefinitionContext,
  FieldPath,
  MAX_INCLUDE_DEPTH,
  ResourceField,
  holdsList,
} from 'src/framework/resource/definition/definition-types';
import type { ResolvePath } from 'src/framework/resource/definition/resolve-paths';

export type Filterable = Map<string, { field: FieldSpec; operators: ReadonlySet<FilterOperator> }>;

/**
 * The readable fields that hold one value (not `<relation>Ids`, not an array column): the defaults of
 * `filter` and `sort`.
 */
export function readableScalars(fields: ReadonlyMap<string, ResourceField>): ResourceField[] {
  return [...fields.values()].filter((f) => f.readable && !holdsList(f));
}

/** `text[]`, `enum[]`: how messages name an array column's type. */
function arrayType(column: ColumnMetadata): string {
  return `${typeof column.type === 'string' ? column.type : 'array'}[]`;
}

/**
 * The operators an array column may be filtered by: `isnull`, when it is nullable, and nothing else, since a
 * filter value is one element and `=`, `<` or `LIKE` would compare it with the whole array (PostgreSQL
 * refuses `tags = 'red'` as a malformed array literal). NST-R018 for any other.
 */
function arrayOperators(
  context: DefinitionContext,
  name: string,
  path: FieldPath,
  declared: true | readonly FilterOperator[],
): FilterOperator[] {
  const allowed: FilterOperator[] = path.spec.nullable ? ['isnull'] : [];
  const refused = declared === true ? undefined : declared.find((op) => !allowed.includes(op));
  if (refused !== undefined || allowed.length === 0) {
    const operator = refused === undefined ? '' : ` with the operator "${refused}"`;
    const notNull = path.spec.nullable ? '' : ` ("${name}" is NOT NULL: leave it out of "filter")`;
    context.fail(
      'NST-R018',
      `option "filter" names "${name}", an array column (${arrayType(path.column)})${operator}: ` +
        `an array column can only be filtered by isnull, and only when nullable${notNull}`,
    );
  }
  return declared === true ? allowed : [...declared];
}

/** NST-R004 unless every operator exists and suits the field's type. */
function checkOperators(
  context: DefinitionContext,
  name: string,
  operators: readonly string[],
  type: string,
  allowed: readonly FilterOperator[],
): void {
  for (const op of operators) {
    if (!(FILTER_OPERATORS as readonly string[]).includes(op)) {
      context.fail('NST-R004', `option "filter" gives "${name}" the unknown operator "${op}"`);
    }
    if (!(allowed as readonly string[]).includes(op)) {
      context.fail(
        'NST-R004',
        `option "filter" gives "${name}" the operator "${op}", which a ${type} field does not support (${allowed.join(', ')})`,
      );
    }
  }
}

/** Option `filter` (default: every readable scalar with its type's operators), plus `id` by `eq`/`in`. */
export function resolveFilters(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
  id: ResourceField,
  resolvePath: ResolvePath,
): Filterable {
  const filterable: Filterable = new Map();
  const filterOption =
    context.options.filter ?? Object.fromEntries(readableScalars(fields).map((f) => [f.name, true as const]));
  for (const [name, operators] of Object.entries(filterOption)) {
    const resolved = resolvePath('filter', name);
    if (resolved.column.isArray) {
      filterable.set(name, {
        field: resolved.spec,
        operators: new Set(arrayOperators(context, name, resolved, operators)),
      });
      continue;
    }
    const allowed = defaultOperators(resolved.spec.type, resolved.spec.nullable);
    if (operators !== true) {
      checkOperators(context, name, operators, resolved.spec.type, allowed);
    }
    filterable.set(name, {
      field: resolved.spec,
      operators: new Set(operators === true ? allowed : operators),
    });
  }
  // Every resource can be fetched by a list of ids (`filter[id][in]=1,2`): clients such as the admin load
  // the records a page references in one request instead of one per id.
  if (!filterable.has(id.name)) {
    const spec = resolvePath('filter', id.name).spec;
    filterable.set(id.name, { field: spec, operators: new Set<FilterOperator>(['eq', 'in']) });
  }
  return filterable;
}

/** Option `sort` (default: every readable scalar but JSON), always with the id; an array is NST-R018. */
export function resolveSort(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
  id: ResourceField,
  resolvePath: ResolvePath,
): Map<string, FieldSpec> {
  const sortNames =
    context.options.sort ??
    readableScalars(fields)
      .filter((f) => f.type !== 'json')
      .map((f) => f.name);
  const sortable = new Map<string, FieldSpec>();
  for (const name of sortNames) {
    if (name.includes('.')) {
      context.fail('NST-R001', `option "sort" names "${name}": only the resource's own fields can be sorted`);
    }
    const resolved = resolvePath('sort', name);
    if (resolved.column.isArray) {
      context.fail('NST-R018', notSortable('sort', name, resolved.column));
    }
    sortable.set(name, resolved.spec);
  }
  sortable.set(id.name, resolvePath('sort', id.name).spec);
  return sortable;
}

/** NST-R018's message for an array column named by `sort` or `defaultSort`. */
function notSortable(option: string, name: string, column: ColumnMetadata): string {
  return (
    `option "${option}" names "${name}", an array column (${arrayType(column)}), which cannot be sorted ` +
    `(a page cursor carries one scalar per sort field): sort by a scalar field`
  );
}

/** Option `defaultSort` (default: the id), ending on the id so that pages are stable. */
export function resolveDefaultSort(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
  sortable: ReadonlyMap<string, FieldSpec>,
  id: ResourceField,
): SortTerm[] {
  const defaultSort: SortTerm[] = [];
  for (const term of (context.options.defaultSort ?? id.name).split(',')) {
    const descending = term.startsWith('-');
    const name = descending ? term.slice(1) : term;
    const field = fields.get(name);
    if (field?.array) {
      context.fail('NST-R018', notSortable('defaultSort', name, field.column!));
    }
    if (!sortable.has(name)) {
      context.fail('NST-R001', `option "defaultSort" names "${name}", which is not sortable`);
    }
    defaultSort.push({ path: name, direction: descending ? 'desc' : 'asc' });
  }
  if (!defaultSort.some((t) => t.path === id.name)) {
    defaultSort.push({ path: id.name, direction: defaultSort[defaultSort.length - 1].direction });
  }
  return defaultSort;
}

/** Option `search`: the text fields `q=` looks in. */
export function resolveSearch(context: DefinitionContext, resolvePath: ResolvePath): FieldPath[] {
  return (context.options.search ?? []).map((name) => {
    const resolved = resolvePath('search', name);
    if (resolved.column.isArray) {
      context.fail(
        'NST-R018',
        `option "search" names "${name}", an array column (${arrayType(resolved.column)}): q= searches text columns only`,
      );
    }
    if (resolved.spec.type !== 'string' && resolved.spec.type !== 'text') {
      context.fail('NST-R001', `option "search" names "${name}", which is not a text field`);
    }
    return resolved;
  });
}

/** Option `include`: each relation path and its prefixes (`items.product` allows `items` too). */
export function resolveIncludes(context: DefinitionContext): Set<string> {
  const { metadata, options, fail } = context;
  const includable = new Set<string>();
  for (const include of options.include ?? []) {
    let current = metadata;
    const parts = include.split('.');
    if (parts.length > MAX_INCLUDE_DEPTH) {
      fail('NST-R003', `option "include" path "${include}" is deeper than ${MAX_INCLUDE_DEPTH}`);
    }
    parts.forEach((part, i) => {
      const relation = current.relations.find((r) => r.propertyName === part);
      if (!relation) {
        fail(
          'NST-R003',
          `option "include" names "${include}", but "${part}" is not a relation of ${current.name} (relations: ${current.relations.map((r) => r.propertyName).join(', ') || 'none'})`,
        );
      }
      includable.add(parts.slice(0, i + 1).join('.'));
      current = relation!.inverseEntityMetadata;
    });
  }
  return includable;
}

/** Options `defaultLimit` and `maxLimit` (20 and 100 when absent). */
export function resolveLimits(context: DefinitionContext): { defaultLimit: number; maxLimit: number } {
  const defaultLimit = context.options.defaultLimit ?? 20;
  const maxLimit = context.options.maxLimit ?? 100;
  if (!(
    Number.isInteger(defaultLimit) &&
    Number.isInteger(maxLimit) &&
    defaultLimit >= 1 &&
    defaultLimit <= maxLimit
  )) {
    context.fail(
      'NST-R007',
      `options "defaultLimit" and "maxLimit" must be integers with 1 ≤ defaultLimit ≤ maxLimit`,
    );
  }
  return { defaultLimit, maxLimit };
}

/** The query options of a resource, resolved in the order their checks report. */
export interface QueryOptions {
  filterable: Filterable;
  sortable: Map<string, FieldSpec>;
  defaultSort: SortTerm[];
  search: FieldPath[];
  includable: Set<string>;
}

/** Options `filter`, `sort`, `defaultSort`, `search` and `include`, in that order. */
export function resolveQueryOptions(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
  id: ResourceField,
  resolvePath: ResolvePath,
): QueryOptions {
  const filterable = resolveFilters(context, fields, id, resolvePath);
  const sortable = resolveSort(context, fields, id, resolvePath);
  const defaultSort = resolveDefaultSort(context, fields, sortable, id);
  const search = resolveSearch(context, resolvePath);
  const includable = resolveIncludes(context);
  return { filterable, sortable, defaultSort, search, includable };
}
