import { DECORATORS } from '@nestjs/swagger';
import type { EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { addIdempotencyKeys } from 'src/framework/idempotency/idempotency-openapi';
import { optionalSecurity, signedInSecurity } from 'src/framework/openapi/security-openapi';
import { MAX_IDS } from 'src/framework/resource/resource-input';
import { fieldTypeOf } from 'src/framework/resource/resource-definition';
import type { ResourceDefinition, ResourceField } from 'src/framework/resource/resource-definition';
import type { FieldType } from 'src/framework/resource/query-types';
import { operationId } from 'src/framework/resource/resource.controller';
import type { ResourceAction } from 'src/framework/resource/resource.decorator';

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

const PROBLEM = { $ref: '#/components/schemas/Problem' };
const EXAMPLE_INSTANT = '2024-05-01T12:00:00.000Z';

const ERRORS: Record<number, string> = {
  400: 'Malformed request or bad query parameter (errors[].parameter names it)',
  401: 'Authentication required',
  403: 'Not allowed',
  404: 'No such row (or not visible to the caller)',
  409: 'Conflict: unique or foreign-key violation, or a concurrent change',
  412: 'If-Match does not match the current ETag',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Validation failed (errors[].pointer names each field)',
};

function problems(...statuses: number[]): Record<string, unknown> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      { description: ERRORS[status], content: { 'application/problem+json': { schema: PROBLEM } } },
    ]),
  );
}

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

/** The JSON schema of a value of this field type (without nullability). */
function typeSchema(type: FieldType, enumValues?: readonly string[], maxLength?: number): Schema {
  switch (type) {
    case 'integer':
      return { type: 'integer', example: 1 };
    case 'bigint':
      return { type: 'string', pattern: '^-?\\d+$', description: '64-bit integer as a string', example: '1' };
    case 'number':
      return { type: 'number', example: 1.5 };
    case 'decimal':
      return {
        type: 'string',
        pattern: '^-?\\d+(\\.\\d+)?$',
        description: 'Exact decimal as a string (numbers are accepted on input)',
        example: '12.50',
      };
    case 'boolean':
      return { type: 'boolean', example: true };
    case 'enum':
      return { type: 'string', enum: [...(enumValues ?? [])], example: enumValues?.[0] };
    case 'date':
      return { type: 'string', format: 'date', example: '2024-05-01' };
    case 'datetime':
      return { type: 'string', format: 'date-time', example: EXAMPLE_INSTANT };
    case 'uuid':
      return { type: 'string', format: 'uuid', example: '3f0e6c1e-8d2b-4a8e-9a57-2f1f0b6f1c11' };
    case 'json':
      return {};
    case 'string':
    case 'text':
      return { type: 'string', ...(maxLength ? { maxLength } : {}), example: 'text' };
  }
}

function nullable(schema: Schema, isNullable: boolean): Schema {
  if (!isNullable) {
    return schema;
  }
  const { example, description, ...rest } = schema;
  const base = Object.keys(rest).length ? { anyOf: [rest, { type: 'null' }] } : {};
  return { ...base, ...(description ? { description } : {}), ...(example !== undefined ? { example } : {}) };
}

function fieldSchema(definition: ResourceDefinition, field: ResourceField): Schema {
  const own = apiProperty(definition.metadata, field.name);
  let schema: Schema;
  if (field.kind === 'toManyIds') {
    // A set: the server ignores repeated ids rather than refusing them, so no `uniqueItems`.
    schema = {
      type: 'array',
      items: typeSchema(field.type),
      maxItems: MAX_IDS,
      description: 'Ids of the related rows (the whole set; repeats are ignored)',
      example: [1],
    };
  } else {
    schema = typeSchema(field.type, field.enumValues, field.maxLength);
    if (field.kind === 'toOneId') {
      schema.description = `Id of the ${field.relation?.inverseEntityMetadata.name ?? 'related row'}`;
    }
  }
  const help = definition.options.admin?.helpText?.[field.name];
  if (own.description ?? help) {
    schema.description = own.description ?? help;
  }
  if (own.example !== undefined) {
    schema.example = own.example;
  }
  return nullable(schema, field.nullable);
}

function columnSchema(metadata: EntityMetadata, column: ColumnMetadata): Schema {
  const type = fieldTypeOf(column);
  const schema = typeSchema(
    type,
    column.enum?.map(String),
    column.length ? Number(column.length) : undefined,
  );
  const own = apiProperty(metadata, column.propertyName);
  if (own.example !== undefined) {
    schema.example = own.example;
  }
  return nullable(schema, column.isNullable);
}

/** Schema name of an entity: the resource's name, or the entity's for related entities without a resource. */
function ref(name: string): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

/**
 * Adds one resource's schemas and operations to an OpenAPI document, replacing what Nest generated for
 * its routes: typed query parameters (the filter family as deepObject), request/response schemas with
 * examples, security and Problem responses. Example: `addResource(document, registry.get(ProductResource), lookup)`.
 */
export function addResource(
  document: {
    paths: Record<string, Record<string, unknown>>;
    components?: { schemas?: Record<string, unknown> };
  },
  definition: ResourceDefinition,
  resourceOf: (target: unknown) => ResourceDefinition | undefined,
): void {
  const schemas = (document.components ??= {}).schemas ?? {};
  document.components.schemas = schemas;
  const { name, path } = definition;

  const related = (metadata: EntityMetadata): Schema => {
    const resource = resourceOf(metadata.target);
    if (resource) {
      return ref(resource.name);
    }
    if (!schemas[metadata.name]) {
      schemas[metadata.name] = {
        type: 'object',
        properties: Object.fromEntries(
          metadata.columns.map((c) => [c.propertyName, columnSchema(metadata, c)]),
        ),
      };
    }
    return ref(metadata.name);
  };

  const readProperties: Record<string, Schema> = Object.fromEntries(
    definition.readable.map((field) => [
      field.name,
      { ...fieldSchema(definition, field), ...(field.writable ? {} : { readOnly: true }) },
    ]),
  );
  for (const include of definition.query.includable) {
    if (include.includes('.')) {
      continue;
    }
    const relation = definition.relations.get(include)!;
    const target = related(relation.inverseEntityMetadata);
    const many = relation.isOneToMany || relation.isManyToMany;
    readProperties[include] = many
      ? { type: 'array', items: target, description: `Present with include=${include}` }
      : { anyOf: [target, { type: 'null' }], description: `Present with include=${include}` };
  }
  schemas[name] = {
    type: 'object',
    required: definition.readable.map((f) => f.name),
    properties: readProperties,
  };
  const writable = [...definition.writable.values()];
  const writeProperties = Object.fromEntries(writable.map((f) => [f.name, fieldSchema(definition, f)]));
  schemas[`${name}Create`] = {
    type: 'object',
    required: writable.filter((f) => f.required).map((f) => f.name),
    properties: writeProperties,
    additionalProperties: false,
  };
  schemas[`${name}Update`] = {
    type: 'object',
    description: 'Any subset of the writable fields',
    properties: writeProperties,
    additionalProperties: false,
  };
  schemas.ListMeta ??= {
    type: 'object',
    required: ['page', 'limit', 'total', 'pageCount', 'nextCursor'],
    properties: {
      page: { type: ['integer', 'null'], description: 'null when paginating with `after`' },
      limit: { type: 'integer', description: 'Effective page size (requests above the maximum are clamped)' },
      total: { type: 'integer' },
      totalEstimated: { type: 'boolean', description: "Present when total is the planner's estimate" },
      pageCount: { type: 'integer' },
      nextCursor: { type: ['string', 'null'], description: 'Pass as `after` for the next page' },
    },
  };
  schemas.ListLinks ??= {
    type: 'object',
    required: ['self', 'next', 'prev'],
    properties: {
      self: { type: 'string' },
      next: { type: ['string', 'null'] },
      prev: { type: ['string', 'null'] },
    },
  };
  schemas[`${name}List`] = {
    type: 'object',
    required: ['data', 'meta', 'links'],
    properties: {
      data: { type: 'array', items: ref(name) },
      meta: ref('ListMeta'),
      links: ref('ListLinks'),
    },
  };

  const query = definition.query;
  const fieldsParameter = {
    name: 'fields',
    in: 'query',
    required: false,
    description: `Comma-separated fields to return (id always): ${[...query.selectable.keys()].join(', ')}`,
    schema: { type: 'string' },
  };
  const includeParameter = {
    name: 'include',
    in: 'query',
    required: false,
    description: query.includable.size
      ? `Comma-separated relations to embed: ${[...query.includable].join(', ')}`
      : 'No relations can be included',
    schema: { type: 'string' },
  };
  // Soft-deleted rows need the change permission, even where reading is public.
  const trashedParameters = definition.deleteDateColumn
    ? [
        {
          name: 'trashed',
          in: 'query',
          required: false,
          description: `Soft-deleted rows: only them (only) or with the live ones (with). Needs ${path}.change`,
          schema: { type: 'string', enum: ['only', 'with'] },
        },
      ]
    : [];
  const problemContent = { 'application/problem+json': { schema: PROBLEM } };
  /** What a public read can still answer when it asks for the trash. */
  const trashedProblems = {
    401: { description: 'trashed= needs a signed-in caller', content: problemContent },
    403: { description: `trashed= needs the ${path}.change permission`, content: problemContent },
  };
  const filterProperties = Object.fromEntries(
    [...query.filterable].map(([field, { field: spec, operators }]) => {
      const value = typeSchema(spec.type, spec.enumValues);
      const scalar = {
        type: value.type === 'integer' || value.type === 'number' ? value.type : 'string',
        ...(value.enum ? { enum: value.enum } : {}),
      };
      return [
        field,
        {
          description: `Equality, or one of: ${[...operators].join(', ')} (in/nin/between take comma lists)`,
          anyOf: [
            scalar,
            {
              type: 'object',
              properties: Object.fromEntries(
                [...operators].map((op) => [
                  op,
                  op === 'isnull'
                    ? { type: 'boolean' }
                    : ['in', 'nin', 'between'].includes(op)
                      ? { type: 'string' }
                      : scalar,
                ]),
              ),
              additionalProperties: false,
            },
          ],
        },
      ];
    }),
  );
  const listParameters = [
    {
      name: 'page',
      in: 'query',
      required: false,
      description: '1-based page number',
      schema: { type: 'integer', minimum: 1, example: 1 },
    },
    {
      name: 'limit',
      in: 'query',
      required: false,
      description: `Page size (default ${query.defaultLimit}; larger values are clamped to ${query.maxLimit})`,
      schema: { type: 'integer', minimum: 1, example: query.defaultLimit },
    },
    {
      name: 'after',
      in: 'query',
      required: false,
      description: 'Keyset cursor: meta.nextCursor of the previous page (keep the same sort and filters)',
      schema: { type: 'string' },
    },
    {
      name: 'sort',
      in: 'query',
      required: false,
      description: `Comma-separated fields, "-" for descending. Sortable: ${[...query.sortable.keys()].join(', ')}. Default: ${query.defaultSort
        .map((t) => (t.direction === 'desc' ? `-${t.path}` : t.path))
        .join(',')}`,
      schema: { type: 'string' },
    },
    {
      name: 'filter',
      in: 'query',
      required: false,
      style: 'deepObject',
      explode: true,
      description: 'filter[field]=value or filter[field][op]=value',
      schema: { type: 'object', properties: filterProperties, additionalProperties: false },
    },
    ...(query.searchable
      ? [
          {
            name: 'q',
            in: 'query',
            required: false,
            description: `Case-insensitive search in ${definition.search.map((s) => s.spec.path).join(', ')}`,
            schema: { type: 'string', maxLength: 200 },
          },
        ]
      : []),
    fieldsParameter,
    includeParameter,
    ...trashedParameters,
  ];
  const idParameter = {
    name: 'id',
    in: 'path',
    required: true,
    schema: typeSchema(definition.id.type),
  };
  const ifMatch = {
    name: 'If-Match',
    in: 'header',
    required: false,
    description: 'ETag from a previous read: the change is refused with 412 if the row changed since',
    schema: { type: 'string' },
  };
  const etagHeader = {
    ETag: { description: 'Validator for If-Match / If-None-Match', schema: { type: 'string' } },
  };
  const json = (schema: Schema): Record<string, unknown> => ({ 'application/json': { schema } });

  const operation = (action: ResourceAction, summary: string, spec: Operation): Operation => ({
    operationId: operationId(path, action),
    summary,
    tags: [path],
    security: definition.publicActions.has(action) ? optionalSecurity() : signedInSecurity(),
    ...spec,
    responses: {
      ...(spec.responses as Record<string, unknown>),
      ...(definition.publicActions.has(action)
        ? trashedParameters.length > 0 && (action === 'list' || action === 'get')
          ? trashedProblems
          : {}
        : problems(401, 403)),
      default: {
        description: 'Error (RFC 9457 problem details)',
        content: { 'application/problem+json': { schema: PROBLEM } },
      },
    },
  });

  const collection: Record<string, unknown> = (document.paths[`/api/${path}`] ??= {});
  const item: Record<string, unknown> = (document.paths[`/api/${path}/{id}`] ??= {});
  const { actions } = definition;
  if (actions.has('list')) {
    collection.get = operation('list', `List ${name} rows`, {
      description:
        'Filter, search, sort and paginate (page/limit or keyset `after`); embed relations with include.',
      parameters: listParameters,
      responses: {
        200: { description: `A page of ${name} rows`, content: json(ref(`${name}List`)) },
        ...problems(400),
      },
    });
  }
  if (actions.has('create')) {
    collection.post = operation('create', `Create a ${name}`, {
      requestBody: { required: true, content: json(ref(`${name}Create`)) },
      responses: {
        201: {
          description: 'Created',
          headers: {
            Location: { description: 'URL of the new row', schema: { type: 'string' } },
            ...etagHeader,
          },
          content: json(ref(name)),
        },
        ...problems(400, 409, 413, 415, 422),
      },
    });
  }
  if (actions.has('get')) {
    item.get = operation('get', `Get one ${name}`, {
      parameters: [idParameter, fieldsParameter, includeParameter, ...trashedParameters],
      responses: {
        200: { description: name, headers: etagHeader, content: json(ref(name)) },
        304: { description: 'Not modified (If-None-Match matched)' },
        ...problems(400, 404),
      },
    });
  }
  if (actions.has('update')) {
    item.patch = operation('update', `Update a ${name} (partial)`, {
      parameters: [idParameter, ifMatch],
      requestBody: { required: true, content: json(ref(`${name}Update`)) },
      responses: {
        200: { description: 'Updated', headers: etagHeader, content: json(ref(name)) },
        ...problems(400, 404, 409, 412, 413, 415, 422),
      },
    });
  }
  if (actions.has('delete')) {
    item.delete = operation(
      'delete',
      definition.deleteDateColumn ? `Delete a ${name} (soft; restorable)` : `Delete a ${name}`,
      {
        parameters: [idParameter, ifMatch],
        responses: { 204: { description: 'Deleted' }, ...problems(404, 409, 412) },
      },
    );
  }
  if (actions.has('restore')) {
    const restore: Record<string, unknown> = (document.paths[`/api/${path}/{id}/restore`] ??= {});
    restore.post = operation('restore', `Restore a soft-deleted ${name}`, {
      parameters: [idParameter],
      responses: {
        200: { description: 'Restored', headers: etagHeader, content: json(ref(name)) },
        ...problems(404),
      },
    });
  }
  addIdempotencyKeys(document, definition);
}
