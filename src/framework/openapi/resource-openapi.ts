import { fieldSchema } from 'src/framework/fields/field-schema';
import {
  fieldsParameter,
  includeParameter,
  listParameters,
  trashedParameter,
} from 'src/framework/openapi/resource-parameters';
import { addResourceSchemas, ref, relatedRef } from 'src/framework/openapi/resource-schemas';
import { errorRefs, rateLimitHeaderRefs } from 'src/framework/openapi/responses';
import { addIdempotencyKeys } from 'src/framework/openapi/idempotency-docs';
import { optionalSecurity, signedInSecurity } from 'src/framework/openapi/security-openapi';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { SPARSE_MEDIA_TYPE, operationId } from 'src/framework/resource/resource.controller';
import type { ResourceAction } from 'src/framework/resource/resource.decorator';
import type { ResourceVersionView } from 'src/framework/resource/resource-versions';

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

interface OpenApiDocument {
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown> };
}

const json = (schema: Schema): Schema => ({ 'application/json': { schema } });

/** A row answer: the whole row, or with `fields=` the sparse one under its own media type. */
function rowContent(name: string, sparse: boolean): Schema {
  return {
    'application/json': { schema: ref(name) },
    ...(sparse ? { [SPARSE_MEDIA_TYPE]: { schema: ref(`${name}Sparse`) } } : {}),
  };
}

function success(description: string, content?: Schema, headers: Schema = {}): Schema {
  return {
    description,
    headers: { ...headers, ...rateLimitHeaderRefs() },
    ...(content ? { content } : {}),
  };
}

const ETAG = { ETag: { $ref: '#/components/headers/ETag' } };

/**
 * The statuses an action can answer besides its success: what the routes, guards and service really send
 * (the fuzz test holds each operation to exactly these). A public action still answers 401 to a bad
 * credential, and `trashed=` makes public reads answer 401/403.
 */
function errorStatuses(definition: ResourceDefinition, action: ResourceAction): number[] {
  const isPublic = definition.publicActions.has(action);
  const trash = definition.deleteDateColumn !== undefined && (action === 'list' || action === 'get');
  const auth = [401, ...(isPublic && !trash ? [] : [403])];
  const body = [400, 409, 413, 415, 422];
  const byAction: Record<ResourceAction, number[]> = {
    list: [400],
    get: [400, 404],
    create: body,
    update: [...body, 404, 412],
    delete: [404, 409, 412],
    restore: [404, 409],
  };
  return [...byAction[action], ...auth, 429, 500, 503].sort((a, b) => a - b);
}

/** One generated operation: id, summary, tag, security and its responses. */
function operation(
  definition: ResourceDefinition,
  action: ResourceAction,
  summary: string,
  spec: Operation,
): Operation {
  return {
    operationId: operationId(definition.path, action),
    summary,
    tags: [definition.path],
    security: definition.publicActions.has(action) ? optionalSecurity() : signedInSecurity(),
    ...spec,
    responses: {
      ...(spec.responses as Schema),
      ...errorRefs(...errorStatuses(definition, action)),
    },
  };
}

/** The row's `id` path parameter, typed like the primary key. */
function idParameter(definition: ResourceDefinition): Schema {
  const schema = fieldSchema({ ...definition.id.rules, nullable: false });
  return { name: 'id', in: 'path', required: true, description: `${definition.name} id`, schema };
}

/** `*` or a comma-separated list of (weak or strong) entity tags, RFC 9110's syntax of If-Match/If-None-Match. */
const ETAGS = { type: 'string', maxLength: 1024, pattern: '^(\\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$' };

const IF_MATCH = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'ETag from a previous read: the change is refused with 412 if the row changed since',
  schema: ETAGS,
};

const IF_NONE_MATCH = {
  name: 'If-None-Match',
  in: 'header',
  required: false,
  description: 'ETags already held: 304 without a body when one still matches',
  schema: ETAGS,
};

/** `GET /api/<path>`: a page of rows. */
function listOperation(definition: ResourceDefinition): Operation {
  const { name } = definition;
  return operation(definition, 'list', `List ${name} rows`, {
    description:
      'Filter, search, sort and paginate (page/limit or keyset `after`); embed relations with include. ' +
      `With \`fields=\` the answer is \`${SPARSE_MEDIA_TYPE}\`, whose rows hold only the fields asked for.`,
    parameters: listParameters(definition),
    responses: {
      200: success(`A page of ${name} rows`, {
        'application/json': { schema: ref(`${name}List`) },
        [SPARSE_MEDIA_TYPE]: { schema: ref(`${name}SparseList`) },
      }),
    },
  });
}

/** `POST /api/<path>`: a new row. */
function createOperation(definition: ResourceDefinition): Operation {
  const { name } = definition;
  return operation(definition, 'create', `Create a ${name}`, {
    description:
      'Validated against the field rules (422 names every field at fault, nothing is written); ' +
      'the answer is the stored row, with its Location and ETag.',
    requestBody: { required: true, content: json(ref(`${name}Create`)) },
    responses: {
      201: success('Created', rowContent(name, false), {
        Location: { $ref: '#/components/headers/Location' },
        ...ETAG,
      }),
    },
  });
}

/** `GET /api/<path>/{id}`: one row with its ETag. */
function getOperation(definition: ResourceDefinition): Operation {
  const { name } = definition;
  const parameters = [idParameter(definition), fieldsParameter(definition), includeParameter(definition)];
  return operation(definition, 'get', `Get one ${name}`, {
    description:
      'The row with its ETag (send it back as If-None-Match for a 304, or as If-Match to change it). ' +
      `With \`fields=\` the answer is \`${SPARSE_MEDIA_TYPE}\`.`,
    parameters: [...parameters, trashedParameter(definition), IF_NONE_MATCH].filter((p) => p !== undefined),
    responses: {
      200: success(name, rowContent(name, true), ETAG),
      304: success('Not modified (If-None-Match matched)', undefined, ETAG),
    },
  });
}

/** `PATCH /api/<path>/{id}`: a partial update. */
function updateOperation(definition: ResourceDefinition): Operation {
  const { name } = definition;
  return operation(definition, 'update', `Update a ${name} (partial)`, {
    description:
      'Changes only the fields sent. With If-Match, a row changed since that ETag is refused (412).',
    parameters: [idParameter(definition), IF_MATCH],
    requestBody: { required: true, content: json(ref(`${name}Update`)) },
    responses: { 200: success('Updated', rowContent(name, false), ETAG) },
  });
}

/** `DELETE /api/<path>/{id}`: to the trash with soft delete, for good without. */
function deleteOperation(definition: ResourceDefinition): Operation {
  const { name } = definition;
  const summary = definition.deleteDateColumn ? `Delete a ${name} (soft; restorable)` : `Delete a ${name}`;
  return operation(definition, 'delete', summary, {
    description: definition.deleteDateColumn
      ? 'Moves the row to the trash (restore brings it back); 409 while other rows still need it.'
      : 'Removes the row for good; 409 while other rows still refer to it.',
    parameters: [idParameter(definition), IF_MATCH],
    responses: { 204: success('Deleted') },
  });
}

/** `POST /api/<path>/{id}/restore`: out of the trash. */
function restoreOperation(definition: ResourceDefinition): Operation {
  return operation(definition, 'restore', `Restore a soft-deleted ${definition.name}`, {
    description: 'Takes the row out of the trash (404 when it is not there).',
    parameters: [idParameter(definition)],
    responses: { 200: success('Restored', rowContent(definition.name, false), ETAG) },
  });
}

/** Each generated action: the path under `/api/<path>` it lives on, its method and its operation. */
const OPERATIONS: readonly {
  action: ResourceAction;
  path: string;
  method: string;
  build: (definition: ResourceDefinition) => Operation;
}[] = [
  { action: 'list', path: '', method: 'get', build: listOperation },
  { action: 'create', path: '', method: 'post', build: createOperation },
  { action: 'get', path: '/{id}', method: 'get', build: getOperation },
  { action: 'update', path: '/{id}', method: 'patch', build: updateOperation },
  { action: 'delete', path: '/{id}', method: 'delete', build: deleteOperation },
  { action: 'restore', path: '/{id}/restore', method: 'post', build: restoreOperation },
];

/** Where a resource's operations live in one version's document (`/api`, `/api/v2`) and how it looks there. */
export interface DocumentVersion {
  prefix: string;
  view: ResourceVersionView;
}

const DEPRECATION_HEADERS: Record<string, [header: string, description: string, pattern: string]> = {
  deprecation: [
    'Deprecation',
    'RFC 9745: this API version is deprecated since this date (`@` Unix seconds)',
    '^@[0-9]+$',
  ],
  sunset: [
    'Sunset',
    'RFC 8594: this API version may stop answering after this HTTP-date',
    '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$',
  ],
  link: [
    'Link',
    'The same resource in the version that succeeds this one (`rel="successor-version"`)',
    '^<[^>]+>; rel="successor-version"$',
  ],
};

/** A deprecated version's operation: marked deprecated, its answers documenting the headers it sends. */
export function withDeprecation(operation: Operation, headers: Readonly<Record<string, string>>): Operation {
  if (!headers.deprecation) {
    return operation;
  }
  const documented = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      const [header, description, pattern] = DEPRECATION_HEADERS[name];
      return [header, { description, schema: { type: 'string', maxLength: 1024, pattern, example: value } }];
    }),
  );
  for (const [status, response] of Object.entries(operation.responses as Record<string, Schema>)) {
    if (/^[23]\d\d$/.test(status)) {
      response.headers = { ...(response.headers as Schema), ...documented };
    }
  }
  return { ...operation, deprecated: true };
}

/** The version's field representations in the row and body schemas (each properties object once). */
function representFields(schemas: Record<string, unknown>, name: string, view: ResourceVersionView): void {
  const seen = new Set<unknown>();
  for (const schemaName of [name, `${name}Sparse`, `${name}Create`, `${name}Update`]) {
    const schema = schemas[schemaName] as { properties?: Schema; example?: Schema } | undefined;
    for (const [field, representation] of view.fields) {
      if (schema?.example && field in schema.example) {
        schema.example = { ...schema.example, [field]: representation.read(schema.example[field]) };
      }
    }
    if (!schema?.properties || seen.has(schema.properties)) {
      continue;
    }
    seen.add(schema.properties);
    for (const [field, representation] of view.fields) {
      const own = schema.properties[field] as Schema | undefined;
      if (own) {
        const { description, readOnly, ...rules } = own;
        schema.properties[field] = {
          ...representation.schema(rules),
          ...(description === undefined ? {} : { description }),
          ...(readOnly === undefined ? {} : { readOnly }),
        };
      }
    }
  }
}

/**
 * Adds one resource's schemas and operations to an OpenAPI document, replacing what Nest generated for
 * its routes: one typed query parameter per allowed filter, bounded request/response schemas from the
 * fields' rules, security, and every status each route can answer. In another API version's document,
 * `version` names its path prefix and how the resource looks there.
 * Example: `addResource(document, registry.get(ProductResource), (target) => registry.forEntity(target))`.
 */
export function addResource(
  document: OpenApiDocument,
  definition: ResourceDefinition,
  resourceOf: (target: unknown) => ResourceDefinition | undefined,
  version?: DocumentVersion,
): void {
  const schemas = ((document.components ??= {}).schemas ??= {});
  addResourceSchemas(schemas, definition, resourceOf);
  if (version) {
    representFields(schemas, definition.name, version.view);
  }
  const base = `${version?.prefix ?? '/api'}/${definition.path}`;
  // The collection and item paths exist even when no action is generated on them, replacing Nest's.
  document.paths[base] ??= {};
  document.paths[`${base}/{id}`] ??= {};
  for (const { action, path, method, build } of OPERATIONS) {
    if (definition.actions.has(action)) {
      (document.paths[`${base}${path}`] ??= {})[method] = withDeprecation(
        build(definition),
        version?.view.headers ?? {},
      );
    }
  }
  addIdempotencyKeys(document, definition);
}

/**
 * Drops the generated routes Nest documented for a resource under `prefix` (another version's document
 * has them elsewhere); hand-written routes on the same paths (`POST /api/orders`) stay.
 */
export function dropResourceRoutes(
  document: OpenApiDocument,
  definition: ResourceDefinition,
  prefix: string,
): void {
  for (const { action, path, method } of OPERATIONS) {
    const item = document.paths[`${prefix}/${definition.path}${path}`];
    if (item && definition.actions.has(action)) {
      delete item[method];
      if (Object.keys(item).length === 0) {
        delete document.paths[`${prefix}/${definition.path}${path}`];
      }
    }
  }
}

/**
 * After every resource is in: a nested `include` (`category.parent`, `items.product`) embeds a relation of
 * the related row, so that row's schema (and its sparse twin) gets the property.
 */
export function addNestedIncludes(
  document: OpenApiDocument,
  definitions: Iterable<ResourceDefinition>,
  resourceOf: (target: unknown) => ResourceDefinition | undefined,
): void {
  const schemas = ((document.components ??= {}).schemas ??= {});
  for (const definition of definitions) {
    for (const include of definition.query.includable) {
      const [first, second] = include.split('.');
      if (second === undefined) {
        continue;
      }
      const parent = definition.relations.get(first)!.inverseEntityMetadata;
      const relation = parent.relations.find((r) => r.propertyName === second)!;
      const target = relatedRef(schemas, relation.inverseEntityMetadata, resourceOf);
      const parentName = resourceOf(parent.target)?.name ?? parent.name;
      const property =
        relation.isOneToMany || relation.isManyToMany
          ? { type: 'array', items: target, maxItems: 1000, description: `Present with include=${include}` }
          : { anyOf: [target, { type: 'null' }], description: `Present with include=${include}` };
      for (const name of [parentName, `${parentName}Sparse`]) {
        const schema = schemas[name] as { properties?: Record<string, unknown> } | undefined;
        if (schema?.properties) {
          schema.properties[second] ??= property;
        }
      }
    }
  }
}
