import { Injectable, Type } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AdminIcon } from 'src/framework/resource/admin-icons';
import type { Principal } from 'src/framework/access/principal';
import type { FilterOperator } from 'src/framework/resource/query-types';

/** The generated routes of a resource. */
export const RESOURCE_ACTIONS = ['list', 'get', 'create', 'update', 'delete', 'restore'] as const;
export type ResourceAction = (typeof RESOURCE_ACTIONS)[number];

/** The generated resource actions that accept an Idempotency-Key: the unsafe ones. */
export const IDEMPOTENT_ACTIONS: readonly ResourceAction[] = ['create', 'update', 'delete', 'restore'];

/** A serialised row as clients see it: visible columns, `<relation>Id`s, `<relation>Ids` and includes. */
export type ResourceRow = Record<string, unknown>;

/** What every lifecycle hook receives. Hooks run inside the write transaction: throw to roll back. */
export interface HookContext {
  /** The transaction's manager: writes made through it commit or roll back with the request. */
  manager: EntityManager;
  /** The caller (undefined for anonymous callers and for writes made outside a request). */
  principal?: Principal;
}

/**
 * Optional lifecycle hooks, implemented as methods of the resource class (which is a Nest provider, so it
 * can inject services). Example: `beforeCreate({ input }) { input.slug ??= slugify(input.name) }`.
 */
export interface ResourceHooks {
  /** May change `input` (validated, column-keyed) before the INSERT. */
  beforeCreate?(context: HookContext & { input: ResourceRow }): Promise<void> | void;
  afterCreate?(context: HookContext & { row: ResourceRow }): Promise<void> | void;
  /** `current` is the row before the change, locked FOR UPDATE. */
  beforeUpdate?(
    context: HookContext & { id: unknown; input: ResourceRow; current: ResourceRow },
  ): Promise<void> | void;
  afterUpdate?(context: HookContext & { row: ResourceRow; previous: ResourceRow }): Promise<void> | void;
  beforeDelete?(context: HookContext & { id: unknown; current: ResourceRow }): Promise<void> | void;
  afterDelete?(context: HookContext & { id: unknown; previous: ResourceRow }): Promise<void> | void;
}

/**
 * A one-to-many child shown as a table on the parent's admin pages (Django's `TabularInline`), checked at
 * boot (NST-R010). Example: `{ resource: OrderItemResource, fields: ['productId', 'quantity', 'unitPrice'] }`.
 */
export interface ResourceAdminInline {
  /** The child resource: its class or its path (`'order-items'`). */
  resource: Type | string;
  /** The child's to-one relation to this resource (Django's `fk_name`); needed when it has several. */
  fkName?: string;
  /** The child's fields shown as columns (default: its list columns, without the relation to the parent). */
  fields?: string[];
  /** Sort of the rows, a sortable field of the child (default: the child's ordering). */
  ordering?: string;
  /** The table's heading (default: this entity's one-to-many property, e.g. "Items", else the child's label). */
  label?: string;
}

/**
 * How the admin panel shows a resource (Django's ModelAdmin names). Every option has a default derived from
 * the declaration; each field named here is checked at boot (NST-R001).
 * Example: `admin: { listDisplay: ['name', 'price'], listFilter: ['status'], ordering: '-createdAt' }`.
 */
export interface ResourceAdminOptions {
  /** Columns of the list view, in order (default: the first readable fields). */
  listDisplay?: string[];
  /** Filters offered beside the list (default: filterable enum, boolean, date and relation fields). */
  listFilter?: string[];
  /** Whether the list has a search box on `q` (default: when the resource declares `search`). */
  searchFields?: string[];
  /** Fields shown but not editable in the admin forms, beyond the resource's read-only ones. */
  readonlyFields?: string[];
  /** Form layout: titled groups of fields (default: one group with every writable field). */
  fieldsets?: { title?: string; fields: string[] }[];
  /** Default sort of the list (default: the resource's `defaultSort`); must be sortable. */
  ordering?: string;
  /** Relation fields edited with a search-as-you-type autocomplete (default: every relation field). */
  autocompleteFields?: string[];
  /** Human labels per field, e.g. `{ sku: 'SKU' }`. */
  labels?: Record<string, string>;
  /** Help text shown under form fields. */
  helpText?: Record<string, string>;
  /** The field that names a row in links, titles and autocompletes, e.g. `name`. */
  titleField?: string;
  /** The menu and dashboard icon, one of the icons the admin ships (`ADMIN_ICONS`). Default `'ViewList'`. */
  icon?: AdminIcon;
  /** One-to-many children listed on the show and edit pages (Django's `inlines`). */
  inlines?: ResourceAdminInline[];
}

/**
 * How a resource is exposed. Every field name is checked against the entity at boot (NST-R001).
 * Example: `@Resource(Note, { search: ['title'], sort: ['createdAt'], public: ['list', 'get'] })`.
 */
export interface ResourceOptions {
  /** URL segment under `/api`, plural kebab-case. Default: the entity's name pluralised (`order-items`). */
  path?: string;
  /** What the resource is, one sentence: its OpenAPI tag's description (Swagger UI shows it as a heading). */
  description?: string;
  /** Fields searched by `q=` (case-insensitive substring). */
  search?: string[];
  /**
   * Filterable fields: own columns or relation paths (`category.slug`), each with `true` (the type's
   * default operators) or an explicit operator list. Default: every visible column but arrays, default
   * operators. An array column (`text[]`, enum or int arrays) takes only `isnull`, when nullable (NST-R018).
   */
  filter?: Record<string, true | FilterOperator[]>;
  /**
   * Sortable fields. Default: every visible scalar column (not JSON, not arrays: an array column here is
   * NST-R018). The id is always the final tie-breaker.
   */
  sort?: string[];
  /** Sort used when the request has none, e.g. `-createdAt`. Default: `id`. */
  defaultSort?: string;
  /** Relation paths clients may `include=` (depth ≤ 2), e.g. `['category', 'items.product']`. */
  include?: string[];
  /** Fields clients may read but never write (id, timestamps, version are always read-only). */
  readOnly?: string[];
  /** Fields clients may write but never read back (e.g. a PIN). */
  writeOnly?: string[];
  /** Columns that are neither readable nor writable through the API. */
  hidden?: string[];
  /** Soft delete through the entity's `@DeleteDateColumn`. Default: on when the entity has one. */
  softDelete?: boolean;
  /** Actions anonymous callers may use (enforced by auth), e.g. `['list', 'get']`. */
  public?: ResourceAction[];
  /**
   * Only staff and superusers may use the routes (staff still need the action's permission); `public` is
   * then ignored. For the accounts themselves: users and groups.
   */
  staffOnly?: boolean;
  /** The generated routes. Default: all (restore only with soft delete). */
  actions?: ResourceAction[];
  /** Page size when the request gives no `limit`. Default 20. */
  defaultLimit?: number;
  /** Largest accepted `limit`; larger values are clamped. Default 100. */
  maxLimit?: number;
  /** Above this many rows (by the planner's estimate), `meta.total` is the estimate. Default: always exact. */
  estimateCountAbove?: number;
  /**
   * A to-one relation to the user who owns each row, e.g. `customer`. Callers without the resource's
   * view/change/delete permission then see and touch only their own rows (others are 404), and create sets
   * the owner from the caller (the `<owner>Id` field is read-only).
   */
  owner?: string;
  /**
   * Replaces the generated service: a subclass of `ResourceService` (checked at boot, NST-R001; typed as any
   * class so this declaration does not import the service that reads it).
   */
  service?: Type;
  admin?: ResourceAdminOptions;
  /**
   * How the resource differs in each API version (`/api/v2/products`), by version number; a version not
   * named here looks like the closest older one. Checked at boot (NST-R012).
   * Example: `versions: { 1: { deprecated: '2026-12-01', sunset: '2027-06-30' }, 2: { fields: { price: asMoney('EUR') } } }`.
   */
  versions?: Record<string, ResourceVersionOptions>;
  /**
   * Caches get-by-id and list answers (Redis with REDIS_URL, else an in-process LRU) for `ttl` seconds;
   * every write through the framework invalidates them at once. See {@link ResourceCacheOptions}.
   */
  cache?: ResourceCacheOptions;
}

/**
 * Option `cache` of `@Resource`: how long answers stay cached, and what `Cache-Control` tells clients.
 * Example: `@Resource(Product, { cache: { ttl: 60, maxAge: 10 } })` caches for a minute and lets browsers
 * and proxies reuse an answer for 10 s (`Cache-Control: public, max-age=10` to anonymous callers; signed-in answers stay `no-store`).
 */
export interface ResourceCacheOptions {
  /** Seconds an answer stays in the server's cache (a whole number ≥ 1); writes invalidate it sooner. */
  ttl: number;
  /** Seconds clients may reuse an answer without asking (`max-age`, 0…ttl). Default 0: revalidate with the ETag. */
  maxAge?: number;
}

/**
 * A field as one API version shows it: its own value (with its rules) mapped to and from another shape.
 * Example: `asMoney('EUR')` shows a decimal `price` as `{ amount, currency }`.
 */
export interface FieldRepresentation {
  /** The version's JSON Schema, built from the field's own schema (which carries its rules). */
  schema(field: Record<string, unknown>): Record<string, unknown>;
  /** The stored value (as version 1 shows it) → this version's value. */
  read(value: unknown): unknown;
  /**
   * A body's value → the field's own value, validated afterwards by the field's rules; problems found here
   * are named by their JSON pointer under the field (`/currency`).
   */
  write(
    value: unknown,
  ): { value: unknown } | { errors: { pointer: string; code: string; message: string }[] };
  /** Where the field's own value sits inside this version's value (`/amount`), for error pointers. */
  pointer: string;
}

/** One API version of a resource (option `versions`). */
export interface ResourceVersionOptions {
  /** Fields shown differently from the version before (others are unchanged). */
  fields?: Record<string, FieldRepresentation>;
  /** ISO date since which the version is deprecated: answers carry `Deprecation` and a successor `Link`. */
  deprecated?: string;
  /** ISO date after which the version may be gone: answers carry `Sunset` (needs `deprecated`). */
  sunset?: string;
}

/** What `@Resource` records: the entity and its options. Example: `resourceDeclaration(NoteResource)?.entity`. */
export interface ResourceDeclaration {
  entity: Type;
  options: ResourceOptions;
}

const RESOURCE_METADATA = Symbol('nestor:resource');

/**
 * Declares a REST resource for a TypeORM entity. The class is a Nest provider; its methods may implement
 * {@link ResourceHooks}. Register it with `ResourceModule.forFeature([ProductResource])`.
 * Example:
 * `@Resource(Product, { search: ['name'], include: ['category'], public: ['list', 'get'] })
 *  export class ProductResource implements ResourceHooks {}`
 */
export function Resource(entity: Type, options: ResourceOptions = {}): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata(RESOURCE_METADATA, { entity, options } satisfies ResourceDeclaration, target);
    Injectable()(target);
  };
}

/**
 * The declaration recorded by `@Resource`, or undefined for any other class.
 * Example: `expect(resourceDeclaration(NoteResource)).toMatchObject({ entity: Note })`.
 */
export function resourceDeclaration(target: unknown): ResourceDeclaration | undefined {
  return typeof target === 'function'
    ? (Reflect.getOwnMetadata(RESOURCE_METADATA, target) as ResourceDeclaration | undefined)
    : undefined;
}

/** `OrderItem` → `order-items`, `Category` → `categories`. */
export function defaultResourcePath(entityName: string): string {
  const kebab = entityName.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  if (/[^aeiou]y$/.test(kebab)) {
    return `${kebab.slice(0, -1)}ies`;
  }
  return /(s|x|z|ch|sh)$/.test(kebab) ? `${kebab}es` : `${kebab}s`;
}
