import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLFieldConfigMap,
  type GraphQLInputFieldConfigMap,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import type { FilterOperator } from 'src/framework/resource/query-types';
import {
  type ResourceDefinition,
  type ResourceField,
  holdsList,
} from 'src/framework/resource/resource-definition';
import { relationLink } from 'src/framework/resource/resource-sql';
import { etagOf } from 'src/framework/resource/resource-rows';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import { FieldScalars, camel, isGraphqlName, pascal } from 'src/framework/graphql/graphql-scalars';

/** A bad schema: two names clash, or a name GraphQL cannot spell. Boot stops with this message. */
export class GraphqlSchemaError extends Error {
  constructor(code: string, message: string) {
    super(`${code} ${message}`);
    this.name = 'GraphqlSchemaError';
  }
}

/** A relation shown as a field: its target resource and the parent's field holding the join key. */
export interface RelationField {
  name: string;
  relation: RelationMetadata;
  target: ResourceDefinition;
  /** The parent row's field whose value the related rows are looked up by (`categoryId`, or `id`). */
  keyField: string;
  many: boolean;
}

/** Loads a relation's rows for one parent row (GraphQL's per-request DataLoaders, graphql-loaders.ts). */
export type RelationResolver = (
  parent: ResourceRow,
  relation: RelationField,
  context: unknown,
) => Promise<ResourceRow[]>;

/**
 * The GraphQL types of one resource: its object type (readable fields, `etag`, include-able relations),
 * its connection, and the filter, sort and input types of its operations. A subscription layer reuses
 * `object` for its payloads. Example: `types.of(registry.get(ProductResource)).object`.
 */
export interface ResourceTypes {
  definition: ResourceDefinition;
  object: GraphQLObjectType;
  connection: GraphQLObjectType;
  filter?: GraphQLInputObjectType;
  sort?: GraphQLEnumType;
  createInput?: GraphQLInputObjectType;
  updateInput?: GraphQLInputObjectType;
  /** GraphQL's name of each filter path (`category.slug` → `category_slug`), for parsing arguments. */
  filterNames: ReadonlyMap<string, string>;
  /** The GraphQL value type of the primary key (Int for integer ids). */
  idType: GraphQLInputType & GraphQLOutputType;
}

export const PAGE_INFO = new GraphQLObjectType({
  name: 'PageInfo',
  description: 'Relay page info: keyset cursors, as REST meta.nextCursor.',
  fields: {
    hasNextPage: { type: new GraphQLNonNull(GraphQLBoolean) },
    hasPreviousPage: { type: new GraphQLNonNull(GraphQLBoolean) },
    startCursor: { type: GraphQLString },
    endCursor: { type: GraphQLString },
  },
});

/** `trashed:` on soft-deleting resources, as REST's `trashed=only|with`. */
export const TRASHED_ENUM = new GraphQLEnumType({
  name: 'Trashed',
  values: { only: { value: 'only' }, with: { value: 'with' } },
});

/** A timestamp as REST's JSON spells it (`Date#toJSON`: ISO 8601 in UTC); other values as they are. */
const isoOf = (value: unknown): unknown => (value instanceof Date ? value.toJSON() : value);

const nonNull = <T extends GraphQLOutputType>(type: T, nullable: boolean) =>
  nullable ? type : new GraphQLNonNull(type);

/**
 * Builds every resource's types once per schema, from the registry's definitions: nothing is declared twice.
 * Relation fields are those some resource declares include-able through this type (`items.product` makes
 * `OrderItem.product`), when the target is a resource and the join key is a readable field.
 */
export class ResourceTypeRegistry {
  private readonly byName = new Map<string, ResourceTypes>();
  private readonly scalars = new FieldScalars();
  private readonly relationFields = new Map<ResourceDefinition, Map<string, RelationField>>();

  constructor(
    private readonly definitions: readonly ResourceDefinition[],
    private readonly forEntity: (target: unknown) => ResourceDefinition | undefined,
    private readonly loadRelation: RelationResolver,
  ) {
    for (const definition of definitions) {
      this.collectRelations(definition);
    }
    for (const definition of definitions) {
      this.byName.set(definition.name, this.build(definition));
    }
  }

  /** The types of a resource. */
  of(definition: ResourceDefinition): ResourceTypes {
    return this.byName.get(definition.name)!;
  }

  all(): ResourceTypes[] {
    return [...this.byName.values()];
  }

  /** The relation fields of a type (for the complexity limit and tests). */
  relationsOf(definition: ResourceDefinition): ReadonlyMap<string, RelationField> {
    return this.relationFields.get(definition) ?? new Map();
  }

  private collectRelations(root: ResourceDefinition): void {
    for (const path of root.query.includable) {
      let definition: ResourceDefinition | undefined = root;
      for (const name of path.split('.')) {
        const relation: RelationMetadata | undefined = definition?.relations.get(name);
        if (!definition || !relation) {
          break;
        }
        this.addRelation(definition, name, relation);
        definition = this.forEntity(relation.inverseEntityMetadata.target);
      }
    }
  }

  private addRelation(definition: ResourceDefinition, name: string, relation: RelationMetadata): void {
    const target = this.forEntity(relation.inverseEntityMetadata.target);
    const link = relationLink(relation, 1);
    const key = definition.readable.find((f) => f.column?.databaseName === link.ownerColumn.databaseName);
    if (!target || !key || definition.fields.has(name)) {
      return; // no type to show, no key to load by, or a field of that name already
    }
    const fields = this.relationFields.get(definition) ?? new Map<string, RelationField>();
    fields.set(name, { name, relation, target, keyField: key.name, many: link.many });
    this.relationFields.set(definition, fields);
  }

  private build(definition: ResourceDefinition): ResourceTypes {
    const name = definition.name;
    if (!isGraphqlName(name)) {
      throw new GraphqlSchemaError('NST-Q001', `${definition.className}: "${name}" is not a GraphQL name`);
    }
    const object: GraphQLObjectType = new GraphQLObjectType({
      name,
      description: definition.options.description,
      fields: () => this.objectFields(definition),
    });
    const edge = new GraphQLObjectType({
      name: `${name}Edge`,
      fields: {
        cursor: { type: new GraphQLNonNull(GraphQLString) },
        node: { type: new GraphQLNonNull(object) },
      },
    });
    const connection = new GraphQLObjectType({
      name: `${name}Connection`,
      fields: {
        edges: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(edge))) },
        pageInfo: { type: new GraphQLNonNull(PAGE_INFO) },
        totalCount: {
          type: new GraphQLNonNull(GraphQLInt),
          description:
            'Rows matching the filters (the estimate when the resource declares estimateCountAbove).',
        },
      },
    });
    const { filter, filterNames } = this.filterType(definition);
    return {
      definition,
      object,
      connection,
      filter,
      filterNames,
      sort: this.sortType(definition),
      createInput: this.inputType(definition, `${name}CreateInput`, true),
      updateInput: this.inputType(definition, `${name}UpdateInput`, false),
      idType: this.scalars.of(name, definition.id),
    };
  }

  private objectFields(definition: ResourceDefinition): GraphQLFieldConfigMap<ResourceRow, unknown> {
    const fields: GraphQLFieldConfigMap<ResourceRow, unknown> = {};
    for (const field of definition.readable) {
      this.checkName(definition, field.name);
      fields[field.name] = {
        type: this.valueType(definition, field),
        // GraphQL's String would serialise a Date by valueOf (epoch milliseconds); REST's JSON has its ISO text.
        ...(field.type === 'datetime' ? { resolve: (row: ResourceRow) => isoOf(row[field.name]) } : {}),
      };
    }
    if (fields.etag) {
      throw new GraphqlSchemaError(
        'NST-Q001',
        `${definition.className}: field "etag" clashes with the GraphQL field that carries the row's ETag`,
      );
    }
    fields.etag = {
      type: new GraphQLNonNull(GraphQLString),
      description: 'The ETag REST sends for this row: pass it as ifMatch to update or delete it.',
      resolve: (row) => etagOf(row),
    };
    for (const relation of this.relationsOf(definition).values()) {
      const target = this.byName.get(relation.target.name)!.object;
      fields[relation.name] = {
        type: relation.many ? new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(target))) : target,
        // For the complexity limit: a to-many relation counts as 10 items (it has no page size).
        extensions: relation.many ? { nestorList: { size: 10, max: 10 } } : {},
        resolve: async (row, _args, context) => {
          const rows = await this.loadRelation(row, relation, context);
          return relation.many ? rows : (rows[0] ?? null);
        },
      };
    }
    return fields;
  }

  private valueType(definition: ResourceDefinition, field: ResourceField): GraphQLOutputType {
    const scalar = this.scalars.of(definition.name, field);
    if (field.kind === 'toManyIds') {
      return new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(scalar)));
    }
    if (field.array) {
      return nonNull(new GraphQLList(new GraphQLNonNull(scalar)), field.nullable);
    }
    return nonNull(scalar, field.nullable);
  }

  private checkName(definition: ResourceDefinition, name: string): void {
    if (!isGraphqlName(name)) {
      throw new GraphqlSchemaError(
        'NST-Q001',
        `${definition.className}: field "${name}" is not a GraphQL name (letters, digits and _)`,
      );
    }
  }

  /** `<Type>Filter`: one input per filterable path, with exactly the operators REST allows on it. */
  private filterType(definition: ResourceDefinition): {
    filter?: GraphQLInputObjectType;
    filterNames: Map<string, string>;
  } {
    const filterNames = new Map<string, string>();
    const fields: GraphQLInputFieldConfigMap = {};
    for (const [path, { field, operators }] of definition.query.filterable) {
      const key = camel(path);
      if (fields[key]) {
        throw new GraphqlSchemaError(
          'NST-Q001',
          `${definition.className}: filters "${path}" and "${filterNames.get(key)}" are both "${key}" in GraphQL`,
        );
      }
      this.checkName(definition, key);
      filterNames.set(key, path);
      const scalar = this.scalars.of(definition.name, {
        name: field.path,
        type: field.type,
        enumValues: field.enumValues,
      });
      fields[key] = {
        type: new GraphQLInputObjectType({
          name: `${definition.name}${pascal(path)}Filter`,
          fields: Object.fromEntries([...operators].map((op) => [op, { type: operandType(op, scalar) }])),
        }),
      };
    }
    if (filterNames.size === 0) {
      return { filterNames };
    }
    return { filter: new GraphQLInputObjectType({ name: `${definition.name}Filter`, fields }), filterNames };
  }

  /** `<Type>Sort`: `price_ASC`, `price_DESC` … for each sortable path (the id breaks ties, as in REST). */
  private sortType(definition: ResourceDefinition): GraphQLEnumType | undefined {
    const values: Record<string, { value: string }> = {};
    for (const path of definition.query.sortable.keys()) {
      values[`${camel(path)}_ASC`] = { value: path };
      values[`${camel(path)}_DESC`] = { value: `-${path}` };
    }
    return Object.keys(values).length > 0
      ? new GraphQLEnumType({ name: `${definition.name}Sort`, values })
      : undefined;
  }

  /** The writable fields; on create the required ones are non-null, on update all are optional. */
  private inputType(
    definition: ResourceDefinition,
    name: string,
    create: boolean,
  ): GraphQLInputObjectType | undefined {
    const fields: GraphQLInputFieldConfigMap = {};
    for (const field of definition.writable.values()) {
      this.checkName(definition, field.name);
      const scalar = this.scalars.of(definition.name, field);
      const type: GraphQLInputType = holdsList(field) ? new GraphQLList(new GraphQLNonNull(scalar)) : scalar;
      fields[field.name] = {
        type: create && field.required ? new GraphQLNonNull(type) : type,
      };
    }
    return Object.keys(fields).length > 0 ? new GraphQLInputObjectType({ name, fields }) : undefined;
  }
}

const LIST_OPERATORS: ReadonlySet<FilterOperator> = new Set(['in', 'nin', 'between']);
const TEXT_OPERATORS: ReadonlySet<FilterOperator> = new Set(['contains', 'icontains', 'startswith']);

function operandType(op: FilterOperator, scalar: GraphQLInputType): GraphQLInputType {
  if (op === 'isnull') {
    return GraphQLBoolean;
  }
  if (TEXT_OPERATORS.has(op)) {
    return GraphQLString;
  }
  return LIST_OPERATORS.has(op) ? new GraphQLList(new GraphQLNonNull(scalar)) : scalar;
}
