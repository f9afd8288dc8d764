import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { MAX_LISTED_ERRORS } from 'src/framework/http/validation';
import { withDtoRules } from 'src/framework/openapi/dto-rules';
import {
  addNestedIncludes,
  addResource,
  dropResourceRoutes,
  withDeprecation,
} from 'src/framework/openapi/resource-openapi';
import { listSchemas } from 'src/framework/openapi/resource-schemas';
import {
  HEADERS,
  errorRefs,
  errorResponses,
  hasSharedResponse,
  rateLimitHeaderRefs,
} from 'src/framework/openapi/responses';
import {
  API_KEY_SCHEME,
  API_KEY_SECURITY_SCHEME,
  BEARER_SCHEME,
  BEARER_SECURITY_SCHEME,
  RouteRequirement,
  requirementsByOperationId,
  signedInSecurity,
  withSecurity,
} from 'src/framework/openapi/security-openapi';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import type { VersionedRoute } from 'src/framework/resource/resource-versions';

/** RFC 9457 problem details, as every Nestor error response carries them. */
export const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: {
      type: 'string',
      maxLength: 200,
      description: 'URI naming the kind of problem',
      example: 'urn:nestor:problem:validation-failed',
    },
    title: { type: 'string', maxLength: 200, example: 'Validation failed' },
    status: { type: 'integer', format: 'int32', minimum: 400, maximum: 599, example: 422 },
    detail: { type: 'string', maxLength: 10000, example: '1 field has errors: /price' },
    instance: {
      type: 'string',
      maxLength: 2048,
      description: 'The request path',
      example: '/api/products',
    },
    requestId: {
      type: 'string',
      maxLength: 128,
      description: 'Quote it when reporting a problem; it is in the server logs',
    },
    errors: {
      type: 'array',
      maxItems: MAX_LISTED_ERRORS,
      description: 'One entry per broken rule (the first 100)',
      items: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          pointer: {
            type: 'string',
            maxLength: 1024,
            description: 'JSON pointer to the body field at fault',
            example: '/price',
          },
          parameter: {
            type: 'string',
            maxLength: 1024,
            description: 'The query parameter at fault',
            example: 'filter[price][gte]',
          },
          code: { type: 'string', maxLength: 100, example: 'min' },
          message: { type: 'string', maxLength: 10000, example: 'price must not be less than 0' },
        },
        additionalProperties: false,
      },
    },
  },
  // RFC 9457 lets a problem type carry extension members.
  additionalProperties: true,
} as const;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;
type Responses = Record<string, Record<string, unknown>>;
type Server = NonNullable<OpenAPIObject['servers']>[number];

/** Descriptions of the framework's own tags; a resource's tag is described by its `description` option. */
const FRAMEWORK_TAGS: Record<string, string> = {
  auth: 'Signing in (tokens, refresh, logout), the account (registration, verification, passwords), 2FA and API keys',
  admin: "The admin panel's own endpoints: session, schema, dashboard, actions, history, CSV export and jobs",
  operations: 'Health probes (for load balancers and Kubernetes) and Prometheus metrics',
};

function operations(document: OpenAPIObject): [method: string, operation: Operation][] {
  const found: [string, Operation][] = [];
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) {
        found.push([method, operation]);
      }
    }
  }
  return found;
}

/**
 * What any request of this shape can be refused with before or while its input is read: a body (on any
 * method that may carry one) that is not JSON (415), too large (413) or malformed (400), and a declared body
 * or query DTO that fails validation (422, 400), a path value that cannot be one (400).
 */
function requestStatuses(method: string, operation: Operation): number[] {
  const statuses: number[] = [];
  if (method !== 'get' && method !== 'head') {
    statuses.push(400, 413, 415);
  }
  if (operation.requestBody) {
    statuses.push(422);
  }
  // A query parameter, or a path value no route can use (a NUL byte), is a 400.
  if ((operation.parameters ?? []).some((p) => 'in' in p && (p.in === 'query' || p.in === 'path'))) {
    statuses.push(400);
  }
  return statuses;
}

/**
 * Every operation answers with its real statuses only (no `default`): hand-written error responses keep their
 * descriptions and get the problem body; budgeted routes document 429 and the rate-limit headers on every
 * answer; any route can answer 401 (a bad credential, even where none is needed), 500 and 503.
 */
function withStandardResponses(document: OpenAPIObject, requirements: Map<string, RouteRequirement>): void {
  for (const [method, operation] of operations(document)) {
    const responses = operation.responses as unknown as Responses;
    delete responses.default;
    const limited = requirements.get(operation.operationId ?? '')?.rateLimited ?? true;
    const standard = [401, 500, 503, ...(limited ? [429] : []), ...requestStatuses(method, operation)];
    for (const [status, response] of Object.entries(responses)) {
      if ('$ref' in response) {
        continue;
      }
      if (+status >= 400 && hasSharedResponse(+status)) {
        responses[status] = {
          ...(errorRefs(+status)[status] as Record<string, unknown>),
          ...keepDescription(response),
        };
      } else if (limited) {
        response.headers = { ...(response.headers as object | undefined), ...rateLimitHeaderRefs() };
      }
    }
    for (const [status, response] of Object.entries(errorRefs(...standard))) {
      responses[status] ??= response;
    }
    operation.responses = Object.fromEntries(
      Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)),
    ) as unknown as Operation['responses'];
  }
}

/** A hand-written response's own description beside the shared response's `$ref` (OpenAPI 3.1 allows it). */
function keepDescription(response: Record<string, unknown>): Record<string, unknown> {
  return typeof response.description === 'string' && response.description !== ''
    ? { description: response.description }
    : {};
}

/** Top-level tags, each described: resources by their `description` option, the framework's by FRAMEWORK_TAGS. */
function withTags(document: OpenAPIObject, registry: ResourceRegistry): void {
  const described = new Map<string, string>(Object.entries(FRAMEWORK_TAGS));
  for (const definition of registry.all()) {
    described.set(
      definition.path,
      definition.options.description ?? `${definition.name} rows: list, read and (with permission) change`,
    );
  }
  const used = new Set(operations(document).flatMap(([, op]) => op.tags ?? []));
  document.tags = [...used].sort().map((name) => ({
    name,
    description: described.get(name) ?? `Operations of ${name}`,
  }));
}

/** The environment a server description names: production, test, or local development. */
function environmentOf(config: NestorConfig): string {
  return config.nodeEnv === 'production'
    ? 'production'
    : config.nodeEnv === 'test'
      ? 'test'
      : 'local development';
}

/** The path prefix of a version's resources: the unversioned `/api` for the default, else `/api/v<n>`. */
function versionPrefix(registry: ResourceRegistry, version: string): string {
  return version === registry.versions.defaultVersion ? '/api' : `/api/v${version}`;
}

/**
 * Takes the operations of `@ApiVersion` handlers out of the document Nest built (it documented each of
 * their paths): the ones serving this version come back, to be placed under the version's prefix and
 * marked deprecated if it is; the others leave this version's document.
 */
function takeVersionedOperations(
  document: OpenAPIObject,
  routes: readonly VersionedRoute[],
  version: string,
): [path: string, method: string, operation: Operation][] {
  const kept: [string, string, Operation][] = [];
  const take = (path: string, method: string): Operation | undefined => {
    const item = document.paths[path] as Record<string, Operation> | undefined;
    const operation = item?.[method];
    if (item && operation) {
      delete item[method];
      if (Object.keys(item).length === 0) {
        delete document.paths[path];
      }
    }
    return operation;
  };
  for (const route of routes) {
    take(`/api${route.path}`, route.method);
    const operations = route.versions.map((v) => [v, take(`/api/v${v}${route.path}`, route.method)] as const);
    const operation = operations.find(([v]) => v === version)?.[1];
    if (operation) {
      kept.push([
        route.path,
        route.method,
        withDeprecation(operation as never, route.headers.get(version) ?? {}) as never,
      ]);
    }
  }
  return kept;
}

/**
 * Builds the OpenAPI 3.1 document of an initialised app, for one API version (default: the default
 * version, whose resources are at the unversioned `/api/<path>`; another's are at `/api/v<n>/<path>`).
 * Routes that are not resources are the same in every version. Example: `buildOpenApiDocument(app, '2')`.
 */
export function buildOpenApiDocument(app: INestApplication, version?: string): OpenAPIObject {
  const config = app.get(NestorConfig, { strict: false });
  const registry = app.get(ResourceRegistry, { strict: false });
  const documented = version ?? registry.versions.defaultVersion;
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Nestor API')
    .setDescription(
      'REST resources, auth and operations endpoints. Errors are RFC 9457 problem details ' +
        '(`application/problem+json`); every route but the probes counts against a request budget ' +
        '(X-RateLimit-* headers, 429 with Retry-After).',
    )
    .setVersion(`${documented}.0`)
    .setLicense('MIT', 'https://opensource.org/license/mit')
    .addServer(config.publicUrl, `This deployment (PUBLIC_URL), ${environmentOf(config)} environment`)
    .addBearerAuth({ ...BEARER_SECURITY_SCHEME }, BEARER_SCHEME)
    .addBearerAuth({ ...API_KEY_SECURITY_SCHEME }, API_KEY_SCHEME);
  const document = SwaggerModule.createDocument(app, builder.build());
  // The API is meant for outside clients (OWASP API9's inventory asks each server to say so).
  document.servers = document.servers?.map((server) => ({ ...server, 'x-internal': false }));
  document.security = signedInSecurity();
  withDtoRules(document);
  const definitions = [...registry.all()].sort((a, b) => a.path.localeCompare(b.path));
  const controllerOperations = takeVersionedOperations(document, registry.versions.routes, documented);
  // Nest documented every version's copy of each resource route; this document keeps its own version's.
  for (const path of Object.keys(document.paths)) {
    if (/^\/api\/v\d+\//.test(path)) {
      delete document.paths[path];
    }
  }
  const prefix = versionPrefix(registry, documented);
  if (prefix !== '/api') {
    for (const definition of definitions) {
      dropResourceRoutes(document as never, definition, '/api');
    }
  }
  const resourceOf = (target: unknown) => registry.forEntity(target);
  for (const definition of definitions) {
    addResource(document as never, definition, resourceOf, {
      prefix,
      view: registry.versions.view(definition, documented),
    });
  }
  addNestedIncludes(document as never, definitions, resourceOf);
  for (const [path, method, operation] of controllerOperations) {
    (document.paths[`${prefix}${path}`] ??= {})[method as 'post'] = operation;
  }
  const components = (document.components ??= {});
  components.schemas = { ...components.schemas, ...listSchemas(), Problem: { ...PROBLEM_SCHEMA } as never };
  components.responses = errorResponses() as never;
  components.headers = HEADERS;
  const requirements = requirementsByOperationId(app);
  withSecurity(document, requirements);
  withStandardResponses(document, requirements);
  withTags(document, registry);
  return document;
}

/**
 * The document as one request sees it: when the page was reached under another origin than PUBLIC_URL
 * (localhost instead of 127.0.0.1, say), that origin comes first in `servers`, so Swagger UI's "Try it
 * out" stays same-origin. The Host is already one ALLOWED_HOSTS accepts.
 */
function forRequest(document: OpenAPIObject, request: FastifyRequest): OpenAPIObject {
  const origin = `${request.protocol}://${request.host}`;
  if (document.servers?.some((server) => server.url.replace(/\/$/, '') === origin)) {
    return document;
  }
  return {
    ...document,
    servers: [
      {
        url: origin,
        description: 'This server, as you reached it (local address)',
        'x-internal': false,
      } as Server, // x-internal: an extension ServerObject's type does not list
      ...(document.servers ?? []),
    ],
  };
}

/**
 * Serves Swagger UI at `/docs` with a selector of API versions, the default version's document at
 * `/docs-json` (and `/docs-yaml`), and every version's at `/docs/v<n>-json`; each built once on first request.
 */
export function setupOpenApi(app: INestApplication): void {
  const versions = app.get(ResourceRegistry, { strict: false }).versions;
  const documents = new Map<string, OpenAPIObject>();
  const documentOf = (version: string) => (): OpenAPIObject => {
    const built = documents.get(version) ?? buildOpenApiDocument(app, version);
    documents.set(version, built);
    return built;
  };
  const patchDocumentOnRequest = (request: unknown, _reply: unknown, built: OpenAPIObject) =>
    forRequest(built, request as FastifyRequest);
  const label = (version: string): string =>
    `v${version}${version === versions.defaultVersion ? ' (default)' : ''}`;
  const urls = versions.all.map((version) => ({ url: `/docs/v${version}-json`, name: label(version) }));
  SwaggerModule.setup('docs', app, documentOf(versions.defaultVersion), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    customSiteTitle: 'Nestor API',
    explorer: versions.all.length > 1,
    patchDocumentOnRequest,
    swaggerOptions: {
      persistAuthorization: true,
      displayOperationId: true,
      tryItOutEnabled: false,
      // Swagger UI's selector (StandaloneLayout's top bar) loads the chosen version's document.
      ...(versions.all.length > 1 ? { urls, 'urls.primaryName': label(versions.defaultVersion) } : {}),
    },
  });
  for (const version of versions.all) {
    SwaggerModule.setup(`docs/v${version}`, app, documentOf(version), {
      ui: false,
      jsonDocumentUrl: `docs/v${version}-json`,
      yamlDocumentUrl: `docs/v${version}-yaml`,
      patchDocumentOnRequest,
    });
  }
}
