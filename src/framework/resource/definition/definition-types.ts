import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';
import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import type { FieldRules, FieldType } from 'src/framework/fields/field-rules';
import type { FieldSpec, ResourceQuerySpec } from 'src/framework/resource/query-types';
import type {
  FieldRepresentation,
  ResourceAction,
  ResourceHooks,
  ResourceOptions,
} from 'src/framework/resource/resource.decorator';

/** A bad `@Resource` declaration; boot stops with this message. Codes are stable (docs link to them). */
export class ResourceDeclarationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code} ${message}`);
    this.name = 'ResourceDeclarationError';
  }
}

/** One field of the API representation. */
export interface ResourceField {
  /** Name in JSON and query strings: a property, `<relation>Id` or `<relation>Ids`. */
  name: string;
  kind: 'column' | 'toOneId' | 'toManyIds';
  /** Database column (columns and to-one ids). */
  column?: ColumnMetadata;
  /** The relation behind a `<relation>Id`/`<relation>Ids`. */
  relation?: RelationMetadata;
  type: FieldType;
  /**
   * An array column (`text[]`, `int[]`, an enum array): the value is a list of `type`s, and `rules` (but
   * `nullable` and `maxItems`, the list's own) are each element's.
   */
  array?: true;
  nullable: boolean;
  enumValues?: readonly string[];
  readable: boolean;
  writable: boolean;
  /** Must be present on create: not nullable, no default, not generated. */
  required: boolean;
  /**
   * Every constraint on the field's values (of each id, for `<relation>Ids`), from its column and its
   * class-validator rules: what OpenAPI documents, the admin shows and body validation enforces.
   */
  rules: FieldRules;
}

/**
 * Whether a field's value is a list: `<relation>Ids`, or an array column.
 * Example: `holdsList(definition.fields.get('tags')!)` → true for a `text[]` column.
 */
export function holdsList(field: ResourceField): boolean {
  return field.kind === 'toManyIds' || field.array === true;
}

/** A column reached from the resource: own (`price`) or through to-one/to-many relations (`category.slug`). */
export interface FieldPath {
  spec: FieldSpec;
  relations: RelationMetadata[];
  column: ColumnMetadata;
}

/** A resource resolved against TypeORM's metadata at boot: everything the service and routes need. */
export interface ResourceDefinition {
  /** The declaring class's name, for messages: `ProductResource`. */
  className: string;
  /** The entity's name: `Product`. */
  name: string;
  path: string;
  metadata: EntityMetadata;
  options: ResourceOptions;
  hooks: ResourceHooks;
  fields: ReadonlyMap<string, ResourceField>;
  id: ResourceField;
  readable: readonly ResourceField[];
  writable: ReadonlyMap<string, ResourceField>;
  paths: ReadonlyMap<string, FieldPath>;
  search: readonly FieldPath[];
  /** Relations by property, for `include`. */
  relations: ReadonlyMap<string, RelationMetadata>;
  deleteDateColumn?: ColumnMetadata;
  versionColumn?: ColumnMetadata;
  /** The `<owner>Id` field of an owned resource. */
  owner?: ResourceField;
  actions: ReadonlySet<ResourceAction>;
  publicActions: ReadonlySet<ResourceAction>;
  query: ResourceQuerySpec;
  /** Option `versions`, checked: what each declared API version changes. */
  versions: ReadonlyMap<string, ResourceVersion>;
  /** Option `cache`, checked: absent when the resource's answers are not cached. */
  cache?: { ttlSeconds: number; maxAge: number };
}

/** One declared API version of a resource (option `versions`). */
export interface ResourceVersion {
  /** Fields shown differently from the version before. */
  fields: ReadonlyMap<string, FieldRepresentation>;
  deprecated?: Date;
  sunset?: Date;
}

/** Most ids one `<relation>Ids` list may hold. */
export const MAX_IDS = 1000;

/** How deep a `category.parent`-style path may go through relations. */
export const MAX_INCLUDE_DEPTH = 2;

/** Stops boot with a coded message naming the resource class. */
export type Fail = (code: string, message: string) => never;

/** What every resolution step reads: the declaration, the entity's metadata and how to fail. */
export interface DefinitionContext {
  className: string;
  metadata: EntityMetadata;
  options: ResourceOptions;
  fail: Fail;
}
