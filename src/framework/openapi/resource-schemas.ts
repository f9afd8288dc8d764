import { DECORATORS } from '@nestjs/swagger';
import type { EntityMetadata } from 'typeorm';
import { columnRules, fieldRules } from 'src/framework/fields/field-rules';
import { JsonSchema, fieldSchema, orNull } from 'src/framework/fields/field-schema';
import type { ResourceDefinition, ResourceField } from 'src/framework/resource/resource-definition';

/** `@ApiProperty({ example, description })` on the entity, when the team wrote one. */
function apiProperty(
  metadata: EntityMetadata,
  property: string,
): { example?: unknown; description?: string } {
  const target = metadata.target as { prototype?: object };
  if (!target.prototype) {
    return {};
  }
  return (
    (Reflect.getMetadata(`${DECORATORS.API_MODEL_PROPERTIES}`, target.prototype, property) as
      { example?: unknown; description?: string } | undefined) ?? {}
  );
}

function withoutDefault(schema: JsonSchema): JsonSchema {
  const { default: _default, ...rest } = schema;
  return rest;
}

/** Whether a column takes part in a unique constraint or index (two rows cannot share its value). */
function isUnique(metadata: EntityMetadata, field: ResourceField): boolean {
  const column = field.column;
  return (
    column !== undefined &&
    (metadata.uniques.some((u) => u.columns.includes(column)) ||
      metadata.indices.some((i) => i.isUnique && i.columns.includes(column)))
  );
}

/**
 * A partial update's example: one field that no other row can clash with (Swagger UI and Postman send the
 * example as the body, and the create's unique values, sent to another row, would be a 409).
 */
function updateExample(definition: ResourceDefinition, properties: Record<string, JsonSchema>): JsonSchema {
  const field = [...definition.writable.values()].find(
    (f) =>
      f.kind === 'column' && !isUnique(definition.metadata, f) && properties[f.name]?.example !== undefined,
  );
  return field ? { [field.name]: properties[field.name].example } : {};
}

/** Schema ref by name. */
export function ref(name: string): JsonSchema {
  return { $ref: `#/components/schemas/${name}` };
}

/** A field's schema: its rules, the team's description/example (or admin help text), arrays for `<relation>Ids`. */
function fieldSchemaOf(definition: ResourceDefinition, field: ResourceField, input: boolean): JsonSchema {
  const own = apiProperty(definition.metadata, field.name);
  const description =
    own.description ??
    definition.options.admin?.helpText?.[field.name] ??
    (field.kind === 'toOneId'
      ? `Id of the ${field.relation?.inverseEntityMetadata.name ?? 'related row'}`
      : undefined);
  if (field.kind === 'toManyIds') {
    const { maxItems, ...item } = field.rules;
    const { example: _example, ...itemSchema } = fieldSchema({ ...item, custom: [] }, { input });
    // A set: the server ignores repeated ids rather than refusing them, so no `uniqueItems`. The example is
    // the empty set, the one every database holds.
    return {
      type: 'array',
      items: itemSchema,
      maxItems,
      description: 'Ids of the related rows (the whole set; repeats are ignored)',
      example: [],
    };
  }
  if (field.array) {
    const { maxItems, nullable, default: _default, ...item } = field.rules;
    const items = fieldSchema({ ...item, nullable: false }, { input });
    const list: JsonSchema = {
      type: 'array',
      items,
      ...(maxItems !== undefined ? { maxItems } : {}),
    };
    return {
      ...(nullable ? orNull(list) : list),
      ...(description !== undefined ? { description } : {}),
      example: own.example ?? (items.example === undefined ? [] : [items.example]),
    };
  }
  // An optional link's example is "none", which needs no row to exist yet.
  const example = own.example ?? (field.kind === 'toOneId' && field.nullable ? null : undefined);
  return fieldSchema(field.rules, { input, description, example });
}

/**
 * The schema of an entity that has no resource of its own but is embedded by `include` (an order's items):
 * its columns, with the same rules.
 */
function embeddedSchema(metadata: EntityMetadata): JsonSchema {
  const columns = metadata.columns.filter(
    (c) =>
      !c.isVirtualProperty && !(c.relationMetadata && c.propertyName === c.relationMetadata.propertyName),
  );
  return {
    type: 'object',
    required: columns.map((c) => c.propertyName),
    properties: Object.fromEntries(
      columns.map((c) => {
        const rules = fieldRules(columnRules(c), metadata.target, c.propertyName);
        return [
          c.propertyName,
          fieldSchema(rules, { example: apiProperty(metadata, c.propertyName).example }),
        ];
      }),
    ),
    additionalProperties: false,
  };
}

/** The ref of a related entity's schema: its resource's, else an embedded one added on first use. */
export function relatedRef(
  schemas: Record<string, unknown>,
  metadata: EntityMetadata,
  resourceOf: (target: unknown) => ResourceDefinition | undefined,
): JsonSchema {
  const resource = resourceOf(metadata.target);
  if (resource) {
    return ref(resource.name);
  }
  schemas[metadata.name] ??= embeddedSchema(metadata);
  return ref(metadata.name);
}

/** A row's properties as read: every readable field (read-only where not writable), then each include. */
function readProperties(
  schemas: Record<string, unknown>,
  definition: ResourceDefinition,
  resourceOf: (target: unknown) => ResourceDefinition | undefined,
): Record<string, JsonSchema> {
  const properties: Record<string, JsonSchema> = Object.fromEntries(
    definition.readable.map((field) => [
      field.name,
      {
        ...withoutDefault(fieldSchemaOf(definition, field, false)),
        ...(field.writable ? {} : { readOnly: true }),
      },
    ]),
  );
  for (const include of definition.query.includable) {
    if (include.includes('.')) {
      continue; // nested includes live inside the related schema
    }
    const relation = definition.relations.get(include)!;
    // Referenced, not repeated: the related resource's schema, or an embedded one added on first use.
    const target = relatedRef(schemas, relation.inverseEntityMetadata, resourceOf);
    const many = relation.isOneToMany || relation.isManyToMany;
    properties[include] = many
      ? { type: 'array', items: target, maxItems: 1000, description: `Present with include=${include}` }
      : { anyOf: [target, { type: 'null' }], description: `Present with include=${include}` };
  }
  return properties;
}

/** A page of `item`s, as the list route answers. */
function listSchema(item: string, maxLimit: number): JsonSchema {
  return {
    type: 'object',
    required: ['data', 'meta', 'links'],
    properties: {
      data: { type: 'array', items: ref(item), maxItems: maxLimit },
      meta: ref('ListMeta'),
      links: ref('ListLinks'),
    },
    additionalProperties: false,
  };
}

/** `<Name>`, `<Name>Sparse` and their lists: the same properties, but `fields=` only promises `id`. */
function addReadSchemas(
  schemas: Record<string, unknown>,
  definition: ResourceDefinition,
  properties: Record<string, JsonSchema>,
): void {
  const { name } = definition;
  const row = (required: string[]): JsonSchema => ({
    type: 'object',
    required,
    properties,
    additionalProperties: false,
  });
  schemas[name] = row(definition.readable.map((f) => f.name));
  schemas[`${name}Sparse`] = {
    ...row([definition.id.name]),
    description: `A ${name} as \`fields=\` returns it: the fields asked for, and id`,
  };
  schemas[`${name}List`] = listSchema(name, definition.query.maxLimit);
  schemas[`${name}SparseList`] = listSchema(`${name}Sparse`, definition.query.maxLimit);
}

/** `<Name>Create` and `<Name>Update`, for the actions the resource has: the writable fields as inputs. */
function addWriteSchemas(schemas: Record<string, unknown>, definition: ResourceDefinition): void {
  const { name } = definition;
  if (!definition.actions.has('create') && !definition.actions.has('update')) {
    return; // nothing takes a body
  }
  const writable = [...definition.writable.values()];
  const writeProperties = Object.fromEntries(
    writable.map((f) => [f.name, fieldSchemaOf(definition, f, true)]),
  );
  if (definition.actions.has('create')) {
    schemas[`${name}Create`] = {
      type: 'object',
      required: writable.filter((f) => f.required).map((f) => f.name),
      properties: writeProperties,
      additionalProperties: false,
    };
  }
  if (definition.actions.has('update')) {
    // A default is what an omitted field gets on create; a partial update leaves the field as it is.
    schemas[`${name}Update`] = {
      type: 'object',
      description: 'Any subset of the writable fields',
      properties: Object.fromEntries(
        Object.entries(writeProperties).map(([key, schema]) => [key, withoutDefault(schema)]),
      ),
      additionalProperties: false,
      example: updateExample(definition, writeProperties),
    };
  }
}

/**
 * Adds a resource's schemas: `<Name>` (a row as read, every property present), `<Name>Sparse` (the same
 * with `fields=`: only `id` is sure), their `…List` pages, and `<Name>Create`/`<Name>Update` (request bodies).
 * `resourceOf` finds the resource of a related entity (its schema is referenced, not repeated).
 */
export function addResourceSchemas(
  schemas: Record<string, unknown>,
  definition: ResourceDefinition,
  resourceOf: (target: unknown) => ResourceDefinition | undefined,
): void {
  // Read first: embedded schemas of included entities are added before the resource's own, as before.
  addReadSchemas(schemas, definition, readProperties(schemas, definition, resourceOf));
  addWriteSchemas(schemas, definition);
}

const COUNT = { type: 'integer', format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const LINK = { type: 'string', format: 'uri-reference', maxLength: 8192 };

/** The page metadata and links every list shares. */
export function listSchemas(): Record<string, JsonSchema> {
  return {
    ListMeta: {
      type: 'object',
      required: ['page', 'limit', 'total', 'pageCount', 'nextCursor'],
      properties: {
        page: {
          type: ['integer', 'null'],
          format: 'int64',
          minimum: 1,
          maximum: Number.MAX_SAFE_INTEGER,
          description: 'null when paginating with `after`',
        },
        limit: {
          type: 'integer',
          format: 'int32',
          minimum: 1,
          maximum: 1000,
          description: 'Effective page size (requests above the maximum are clamped)',
        },
        total: COUNT,
        totalEstimated: { type: 'boolean', description: "Present when total is the planner's estimate" },
        pageCount: COUNT,
        nextCursor: {
          type: ['string', 'null'],
          maxLength: 8192,
          pattern: '^[A-Za-z0-9_-]+$',
          description: 'Pass as `after` for the next page',
        },
      },
      additionalProperties: false,
    },
    ListLinks: {
      type: 'object',
      required: ['self', 'next', 'prev'],
      properties: {
        self: LINK,
        next: { ...LINK, type: ['string', 'null'] },
        prev: { ...LINK, type: ['string', 'null'] },
      },
      additionalProperties: false,
    },
  };
}
