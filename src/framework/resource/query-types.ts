/** The filter operators of the list query language (docs/architecture.md §4). */
export const FILTER_OPERATORS = [
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'nin',
  'contains',
  'icontains',
  'startswith',
  'isnull',
  'between',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

import type { FieldType } from 'src/framework/fields/field-rules';

export type { FieldType };

/** One queryable field of a resource (a column, or a column reached through a relation path). */
export interface FieldSpec {
  /** Property path as clients write it: `price`, `category.slug`. */
  path: string;
  type: FieldType;
  nullable: boolean;
  /** Allowed values when `type` is `enum`. */
  enumValues?: readonly string[];
  /**
   * An `integer` column's width, as OpenAPI's format says (a join column's is its key's): filter values beyond
   * it are out of range. Default: int32.
   */
  integerFormat?: 'int16' | 'int32';
}

/** Everything the query parser needs to know about one resource: its allow-lists, resolved at boot. */
export interface ResourceQuerySpec {
  /** The resource's name for messages, e.g. `Product`. */
  name: string;
  /** Fields a client may ask for with `fields=` (visible columns and to-one `<relation>Id`s). */
  selectable: ReadonlyMap<string, FieldSpec>;
  /** Filterable paths and the operators each accepts. */
  filterable: ReadonlyMap<string, { field: FieldSpec; operators: ReadonlySet<FilterOperator> }>;
  /** Sortable paths (also the keys a cursor may carry). */
  sortable: ReadonlyMap<string, FieldSpec>;
  /** Sort used when the request has none, e.g. `[{ path: 'createdAt', direction: 'desc' }]`. */
  defaultSort: readonly SortTerm[];
  /** Relation paths allowed in `include=`, nested ones spelled out: `items`, `items.product`. */
  includable: ReadonlySet<string>;
  /** Whether `q=` is accepted (the resource declares search fields). */
  searchable: boolean;
  /** Whether `trashed=` is accepted (the resource soft-deletes). */
  softDelete?: boolean;
  /** The primary key's path (tie-breaker of every sort and cursor), usually `id`. */
  idPath: string;
  idField: FieldSpec;
  defaultLimit: number;
  maxLimit: number;
}

/** `trashed=only`: soft-deleted rows only; `trashed=with`: live and soft-deleted rows. */
export const TRASHED_VALUES = ['only', 'with'] as const;
export type Trashed = (typeof TRASHED_VALUES)[number];

export interface SortTerm {
  path: string;
  direction: 'asc' | 'desc';
}

/** One parsed filter with its value coerced to the column type (`in`/`nin`/`between` → arrays). */
export interface FilterTerm {
  path: string;
  op: FilterOperator;
  value: unknown;
}

/** A validated list request; everything in it is allow-listed and typed. */
export interface ListQuery {
  /** 1-based page; undefined when paginating by cursor. */
  page?: number;
  /** Effective page size after clamping to `maxLimit`. */
  limit: number;
  /** Decoded `after` cursor: the sort values of the last row seen, in sort order, id last. */
  after?: unknown[];
  /** Sort terms, always ending with the id as tie-breaker. */
  sort: SortTerm[];
  filters: FilterTerm[];
  q?: string;
  /** Requested fields (id always included); undefined → all visible fields. */
  fields?: string[];
  include: string[];
  /** Soft-deleted rows wanted (undefined: live rows only). */
  trashed?: Trashed;
}
