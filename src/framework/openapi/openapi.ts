import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

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
        operation.responses.default ??= {
          description: 'Error (RFC 9457 problem details)',
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        };
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
    .addBearerAuth()
    .build();
  return withProblemDefaults(SwaggerModule.createDocument(app, config));
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
