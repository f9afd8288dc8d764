import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';
import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import { defaultOperators } from 'src/framework/resource/query/filters';
import {
  FieldRuleError,
  FieldRules,
  FieldType,
  columnRules,
  fieldRules,
  fieldTypeOf,
} from 'src/framework/fields/field-rules';
import {
  FILTER_OPERATORS,
  FieldSpec,
  FilterOperator,
  ResourceQuerySpec,
  SortTerm,
} from 'src/framework/resource/query-types';
import {
  RESOURCE_ACTIONS,
  ResourceAction,
  ResourceDeclaration,
  ResourceHooks,
  ResourceOptions,
  defaultResourcePath,
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
}

const MAX_INCLUDE_DEPTH = 2;
const PATH_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** `tags` → `tagIds`, `categories` → `categoryIds`. */
function idsName(relation: string): string {
  const singular = relation.endsWith('ies')
    ? `${relation.slice(0, -3)}y`
    : /(ss|x|z|ch|sh)es$/.test(relation)
      ? relation.slice(0, -2)
      : relation.endsWith('s')
        ? relation.slice(0, -1)
        : relation;
  return `${singular}Ids`;
}

function isToOne(relation: RelationMetadata): boolean {
  return relation.isManyToOne || (relation.isOneToOne && relation.isOwning);
}

/**
 * A related entity's column by its API name, as on the entity's own resource: a property, or `<relation>Id`
 * for an implicit join column (the relation itself, e.g. `publisher.country`, is not a column).
 */
function relatedColumn(metadata: EntityMetadata, name: string): ColumnMetadata | undefined {
  return (
    metadata.columns.find(
      (c) =>
        c.propertyName === name &&
        !c.isVirtualProperty &&
        !(c.relationMetadata && c.propertyName === c.relationMetadata.propertyName),
    ) ?? metadata.relations.find((r) => isToOne(r) && `${r.propertyName}Id` === name)?.joinColumns[0]
  );
}

function enumValuesOf(column: ColumnMetadata): string[] | undefined {
  return column.enum?.map(String);
}

/** The type of a key as `<relation>Id(s)` carry it: integers and UUIDs as such, anything else as text. */
function idType(type: FieldType): FieldType {
  return type === 'integer' || type === 'bigint' || type === 'uuid' ? type : 'string';
}

/** Most ids one `<relation>Ids` list may hold. */
export const MAX_IDS = 1000;

/**
 * Resolves one declaration against the entity's metadata and checks every option (NST-R001…R007).
 * Example: `resolveResource(ProductResource, declaration, dataSource.getMetadata(Product), hooks)`.
 */
export function resolveResource(
  className: string,
  declaration: ResourceDeclaration,
  metadata: EntityMetadata,
  hooks: ResourceHooks,
): ResourceDefinition {
  const { options } = declaration;
  const fail = (code: string, message: string): never => {
    throw new ResourceDeclarationError(code, `${className}: ${message}`);
  };
  if (metadata.primaryColumns.length !== 1) {
    fail('NST-R006', `entity ${metadata.name} must have exactly one primary column`);
  }
  const path = options.path ?? defaultResourcePath(metadata.name);
  if (!PATH_RE.test(path)) {
    fail('NST-R007', `option "path" must be kebab-case like "order-items", got "${path}"`);
  }

  const hidden = new Set(options.hidden ?? []);
  const writeOnly = new Set(options.writeOnly ?? []);
  const readOnly = new Set(options.readOnly ?? []);
  const fields = new Map<string, ResourceField>();
  /** The field's rules, or NST-R011 naming the rule that cannot be stated honestly. */
  const rulesOf = (base: FieldRules, property: string): FieldRules => {
    try {
      return fieldRules(base, metadata.target, property);
    } catch (error) {
      if (error instanceof FieldRuleError) {
        fail('NST-R011', `field "${property}": ${error.message}`);
      }
      throw error;
    }
  };
  const joinColumns = new Set(
    metadata.relations.filter(isToOne).flatMap((r) => r.joinColumns.map((c) => c.databaseName)),
  );

  for (const column of metadata.columns) {
    if (column.relationMetadata && column.propertyName === column.relationMetadata.propertyName) {
      continue; // an implicit join column: exposed as `<relation>Id` below
    }
    if (column.isVirtualProperty) {
      continue; // a @VirtualColumn is computed by a subquery: there is no table column to select or write
    }
    const generated =
      column.isPrimary ||
      column.isGenerated ||
      column.generatedType !== undefined || // GENERATED ALWAYS AS (…): PostgreSQL refuses writes
      column.isCreateDate ||
      column.isUpdateDate ||
      column.isDeleteDate ||
      column.isVersion;
    const type = fieldTypeOf(column);
    const rules = rulesOf(columnRules(column, type), column.propertyName);
    fields.set(column.propertyName, {
      name: column.propertyName,
      kind: joinColumns.has(column.databaseName) ? 'toOneId' : 'column',
      column,
      relation: metadata.relations.find(
        (r) => isToOne(r) && r.joinColumns.some((c) => c.databaseName === column.databaseName),
      ),
      type,
      nullable: rules.nullable,
      enumValues: rules.enum,
      readable: true,
      writable: !generated,
      required: !generated && !column.isNullable && column.default === undefined,
      rules,
    });
  }
  for (const relation of metadata.relations) {
    if (isToOne(relation)) {
      const join = relation.joinColumns[0];
      const name = `${relation.propertyName}Id`;
      if (!fields.has(name) && join) {
        const referenced = join.referencedColumn ?? join;
        const type = idType(fieldTypeOf(referenced));
        fields.set(name, {
          name,
          kind: 'toOneId',
          column: join,
          relation,
          type,
          nullable: relation.isNullable,
          readable: true,
          writable: true,
          required: !relation.isNullable,
          rules: { ...columnRules(referenced, type), nullable: relation.isNullable, default: undefined },
        });
      }
    } else if (relation.isManyToMany) {
      const name = idsName(relation.propertyName);
      const target = relation.inverseEntityMetadata.primaryColumns[0];
      const type = idType(fieldTypeOf(target));
      fields.set(name, {
        name,
        kind: 'toManyIds',
        relation,
        type,
        nullable: false,
        readable: true,
        writable: true,
        required: false,
        rules: { ...columnRules(target, type), nullable: false, default: undefined, maxItems: MAX_IDS },
      });
    }
  }

  const known = (option: string, names: Iterable<string>): void => {
    for (const name of names) {
      if (!fields.has(name)) {
        fail(
          'NST-R001',
          `option "${option}" names unknown field "${name}" (fields: ${[...fields.keys()].join(', ')})`,
        );
      }
    }
  };
  known('hidden', hidden);
  known('writeOnly', writeOnly);
  known('readOnly', readOnly);
  for (const field of fields.values()) {
    if (hidden.has(field.name)) {
      field.readable = false;
      field.writable = false;
    }
    if (writeOnly.has(field.name)) {
      field.readable = false;
    }
    if (readOnly.has(field.name)) {
      field.writable = false;
      field.required = false;
    }
  }
  const id = fields.get(metadata.primaryColumns[0].propertyName)!;
  let owner: ResourceField | undefined;
  if (options.owner !== undefined) {
    const relation = metadata.relations.find((r) => r.propertyName === options.owner);
    owner = fields.get(`${options.owner}Id`);
    if (!relation || !isToOne(relation) || !owner) {
      fail(
        'NST-R001',
        `option "owner" names "${options.owner}", which is not a to-one relation of ${metadata.name}`,
      );
    }
    owner!.writable = false; // set from the caller, never from the body
    owner!.required = false;
  }

  const relations = new Map(metadata.relations.map((r) => [r.propertyName, r]));
  const paths = new Map<string, FieldPath>();
  /** Resolves `price` or `category.slug` (relations up to depth 2) to a column, or fails naming the option. */
  const resolvePath = (option: string, path: string): FieldPath => {
    const existing = paths.get(path);
    if (existing) {
      return existing;
    }
    const parts = path.split('.');
    const chain: RelationMetadata[] = [];
    let current = metadata;
    for (const part of parts.slice(0, -1)) {
      const relation = current.relations.find((r) => r.propertyName === part);
      if (!relation) {
        fail('NST-R001', `option "${option}" names "${path}", but ${current.name} has no relation "${part}"`);
      }
      chain.push(relation!);
      current = relation!.inverseEntityMetadata;
    }
    if (chain.length > MAX_INCLUDE_DEPTH) {
      fail('NST-R003', `option "${option}" path "${path}" is deeper than ${MAX_INCLUDE_DEPTH} relations`);
    }
    const last = parts[parts.length - 1];
    let column: ColumnMetadata | undefined;
    let field: ResourceField | undefined;
    if (chain.length === 0) {
      field = fields.get(last);
      column = field?.kind === 'toManyIds' ? undefined : field?.column;
      if (field && !field.readable) {
        fail('NST-R001', `option "${option}" names "${path}", which is hidden or write-only`);
      }
    } else {
      column = relatedColumn(current, last);
    }
    if (!column) {
      fail('NST-R001', `option "${option}" names unknown field "${path}"`);
    }
    const type = field?.type ?? fieldTypeOf(column!);
    const resolved: FieldPath = {
      spec: {
        path,
        type,
        nullable: column!.isNullable || chain.some((r) => r.isNullable || !isToOne(r)),
        enumValues: type === 'enum' ? enumValuesOf(column!) : undefined,
      },
      relations: chain,
      column: column!,
    };
    paths.set(path, resolved);
    return resolved;
  };

  const readableScalars = [...fields.values()].filter((f) => f.readable && f.kind !== 'toManyIds');
  const filterable = new Map<string, { field: FieldSpec; operators: ReadonlySet<FilterOperator> }>();
  const filterOption =
    options.filter ?? Object.fromEntries(readableScalars.map((f) => [f.name, true as const]));
  for (const [name, operators] of Object.entries(filterOption)) {
    const resolved = resolvePath('filter', name);
    const allowed = defaultOperators(resolved.spec.type, resolved.spec.nullable);
    if (operators !== true) {
      for (const op of operators) {
        if (!(FILTER_OPERATORS as readonly string[]).includes(op)) {
          fail('NST-R004', `option "filter" gives "${name}" the unknown operator "${op}"`);
        }
        if (!allowed.includes(op)) {
          fail(
            'NST-R004',
            `option "filter" gives "${name}" the operator "${op}", which a ${resolved.spec.type} field does not support (${allowed.join(', ')})`,
          );
        }
      }
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

  const sortNames = options.sort ?? readableScalars.filter((f) => f.type !== 'json').map((f) => f.name);
  const sortable = new Map<string, FieldSpec>();
  for (const name of sortNames) {
    if (name.includes('.')) {
      fail('NST-R001', `option "sort" names "${name}": only the resource's own fields can be sorted`);
    }
    sortable.set(name, resolvePath('sort', name).spec);
  }
  sortable.set(id.name, resolvePath('sort', id.name).spec);

  const defaultSort: SortTerm[] = [];
  for (const term of (options.defaultSort ?? id.name).split(',')) {
    const descending = term.startsWith('-');
    const name = descending ? term.slice(1) : term;
    if (!sortable.has(name)) {
      fail('NST-R001', `option "defaultSort" names "${name}", which is not sortable`);
    }
    defaultSort.push({ path: name, direction: descending ? 'desc' : 'asc' });
  }
  if (!defaultSort.some((t) => t.path === id.name)) {
    defaultSort.push({ path: id.name, direction: defaultSort[defaultSort.length - 1].direction });
  }

  const search = (options.search ?? []).map((name) => {
    const resolved = resolvePath('search', name);
    if (resolved.spec.type !== 'string' && resolved.spec.type !== 'text') {
      fail('NST-R001', `option "search" names "${name}", which is not a text field`);
    }
    return resolved;
  });

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

  const deleteDateColumn = metadata.deleteDateColumn;
  const softDelete = options.softDelete ?? deleteDateColumn !== undefined;
  if (softDelete && !deleteDateColumn) {
    fail('NST-R007', `option "softDelete" needs a @DeleteDateColumn on ${metadata.name}`);
  }
  const actionList = options.actions ?? RESOURCE_ACTIONS.filter((a) => a !== 'restore' || softDelete);
  for (const action of [...actionList, ...(options.public ?? [])]) {
    if (!(RESOURCE_ACTIONS as readonly string[]).includes(action)) {
      fail('NST-R001', `unknown action "${action}" (actions: ${RESOURCE_ACTIONS.join(', ')})`);
    }
  }
  if (actionList.includes('restore') && !softDelete) {
    fail('NST-R007', `action "restore" needs soft delete`);
  }

  const defaultLimit = options.defaultLimit ?? 20;
  const maxLimit = options.maxLimit ?? 100;
  if (!(
    Number.isInteger(defaultLimit) &&
    Number.isInteger(maxLimit) &&
    defaultLimit >= 1 &&
    defaultLimit <= maxLimit
  )) {
    fail(
      'NST-R007',
      `options "defaultLimit" and "maxLimit" must be integers with 1 ≤ defaultLimit ≤ maxLimit`,
    );
  }
  const admin = options.admin ?? {};
  const readableOnly = (option: string, names: readonly string[]): void => {
    known(option, names);
    for (const name of names) {
      if (!fields.get(name)!.readable) {
        fail('NST-R001', `option "${option}" names "${name}", which is hidden or write-only`);
      }
    }
  };
  readableOnly('admin.listDisplay', admin.listDisplay ?? []);
  readableOnly('admin.readonlyFields', admin.readonlyFields ?? []);
  for (const name of admin.listFilter ?? []) {
    if (!filterable.has(name)) {
      fail('NST-R001', `option "admin.listFilter" names "${name}", which is not in "filter"`);
    }
  }
  for (const name of admin.searchFields ?? []) {
    if (!search.some((s) => s.spec.path === name)) {
      fail('NST-R001', `option "admin.searchFields" names "${name}", which is not in "search"`);
    }
  }
  (admin.fieldsets ?? []).forEach((fieldset, i) => known(`admin.fieldsets[${i}]`, fieldset.fields));
  for (const name of admin.autocompleteFields ?? []) {
    if (fields.get(name)?.kind === 'column' || !fields.has(name)) {
      fail('NST-R001', `option "admin.autocompleteFields" names "${name}", which is not a relation field`);
    }
  }
  if (admin.ordering !== undefined && !sortable.has(admin.ordering.replace(/^-/, ''))) {
    fail('NST-R001', `option "admin.ordering" sorts by "${admin.ordering}", which is not in "sort"`);
  }
  known('admin.labels', Object.keys(admin.labels ?? {}));
  known('admin.helpText', Object.keys(admin.helpText ?? {}));
  known('admin.titleField', admin.titleField ? [admin.titleField] : []);

  const readable = [...fields.values()].filter((f) => f.readable);
  return {
    className,
    name: metadata.name,
    path,
    metadata,
    options,
    hooks,
    fields,
    id,
    readable,
    writable: new Map([...fields].filter(([, f]) => f.writable)),
    paths,
    search,
    relations,
    owner,
    deleteDateColumn: softDelete ? deleteDateColumn : undefined,
    versionColumn: metadata.versionColumn,
    actions: new Set(actionList),
    // A staff-only resource has no anonymous actions, whatever `public` says.
    publicActions: new Set(options.staffOnly ? [] : (options.public ?? [])),
    query: {
      name: metadata.name,
      selectable: new Map(
        readable.map((f) => [f.name, { path: f.name, type: f.type, nullable: f.nullable }]),
      ),
      filterable,
      sortable,
      defaultSort,
      includable,
      searchable: search.length > 0,
      softDelete,
      idPath: id.name,
      idField: sortable.get(id.name)!,
      defaultLimit,
      maxLimit,
    },
  };
}
