import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { addResource } from 'src/framework/openapi/resource-openapi';
import {
  API_KEY_SCHEME,
  API_KEY_SECURITY_SCHEME,
  BEARER_SCHEME,
  BEARER_SECURITY_SCHEME,
  withSecurity,
} from 'src/framework/openapi/security-openapi';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

/** RFC 9457 problem details, as every Nestor error response carries them. */
export const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: {
      type: 'string',
      description: 'URI naming the kind of problem',
      example: 'urn:nestor:problem:validation-failed',
    },
    title: { type: 'string', example: 'Validation failed' },
    status: { type: 'integer', example: 422 },
    detail: { type: 'string', example: '1 field has errors: /price' },
    instance: { type: 'string', description: 'The request path', example: '/api/products' },
    requestId: { type: 'string', description: 'Quote it when reporting a problem; it is in the server logs' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          pointer: {
            type: 'string',
            description: 'JSON pointer to the body field at fault',
            example: '/price',
          },
          parameter: {
            type: 'string',
            description: 'The query parameter at fault',
            example: 'filter[price][gte]',
          },
          code: { type: 'string', example: 'min' },
          message: { type: 'string', example: 'price must not be less than 0' },
        },
      },
    },
  },
  additionalProperties: true,
} as const;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Adds the Problem schema and makes it every operation's default (error) response. */
function withProblemDefaults(document: OpenAPIObject): OpenAPIObject {
  document.components ??= {};
  document.components.schemas = { ...document.components.schemas, Problem: { ...PROBLEM_SCHEMA } as never };
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) {
        const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
        operation.responses.default ??= { description: 'Error (RFC 9457 problem details)', content: problem };
        // Hand-written routes declare their error statuses with @ApiResponse; the body is always a problem.
        for (const [status, response] of Object.entries(operation.responses)) {
          if (+status >= 400 && response && 'description' in response && !response.content) {
            response.content = problem;
          }
        }
      }
    }
  }
  return document;
}

/** Builds the OpenAPI 3.1 document of an initialised app. Example: `const doc = buildOpenApiDocument(app)`. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Nestor API')
    .setDescription('REST resources, auth and operations endpoints. Errors are RFC 9457 problem details.')
    .setVersion('1.0')
    .addBearerAuth({ ...BEARER_SECURITY_SCHEME }, BEARER_SCHEME)
    .addBearerAuth({ ...API_KEY_SECURITY_SCHEME }, API_KEY_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config);
  const registry = app.get(ResourceRegistry, { strict: false });
  for (const definition of [...registry.all()].sort((a, b) => a.path.localeCompare(b.path))) {
    addResource(document as never, definition, (target) => registry.forEntity(target));
  }
  return withProblemDefaults(withSecurity(document, app));
}

/** Serves Swagger UI at `/docs` and the document at `/docs-json`, built once on first request. */
export function setupOpenApi(app: INestApplication): void {
  let document: OpenAPIObject | undefined;
  SwaggerModule.setup('docs', app, () => (document ??= buildOpenApiDocument(app)), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    customSiteTitle: 'Nestor API',
  });
}
