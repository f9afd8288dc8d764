import SwaggerParser from '@apidevtools/swagger-parser';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from 'src/app.module';
import { buildOpenApiDocument } from 'src/framework/openapi/openapi';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { TestApp, createTestApp } from 'src/framework/testing';

const SNAPSHOT = join(__dirname, 'snapshots', 'openapi.json');
const CLIENT_TYPES = join(__dirname, 'generated', 'api.ts');
const UPDATE = process.env.UPDATE_OPENAPI === '1';
const HOW_TO_UPDATE =
  'The API changed: review the diff, then run `npm run openapi:update` and commit the snapshot.';

type Response = { $ref?: string; content?: Record<string, { schema?: { $ref?: string } }> };
type Operation = {
  operationId?: string;
  summary?: string;
  parameters?: { name: string; in: string; style?: string; explode?: boolean; schema?: object }[];
  responses: Record<string, Response>;
  security?: unknown[];
};

/** The other API versions' documents, each with its snapshot and typed client (products v2). */
const VERSIONED = [
  {
    version: '2',
    snapshot: join(__dirname, 'snapshots', 'openapi-v2.json'),
    types: join(__dirname, 'generated', 'api-v2.ts'),
  },
];

/** Generates the typed client's types from a document with the openapi-typescript CLI. */
function clientTypes(documentPath: string): string {
  const out = join(mkdtempSync(join(tmpdir(), 'nestor-openapi-')), 'api.ts');
  execFileSync(
    process.execPath,
    [
      join(__dirname, '..', 'node_modules', 'openapi-typescript', 'bin', 'cli.js'),
      documentPath,
      '--default-non-nullable=false',
      '-o',
      out,
    ],
    {
      stdio: 'pipe',
    },
  );
  const source = documentPath.slice(documentPath.indexOf('test/snapshots/'));
  const text = `// Generated from ${source} by openapi-typescript; do not edit.\n${readFileSync(out, 'utf8')}`;
  rmSync(join(out, '..'), { recursive: true, force: true });
  return text;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let document: ReturnType<typeof buildOpenApiDocument>;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot);
    document = JSON.parse(JSON.stringify(buildOpenApiDocument(t.app))) as typeof document;
  });
  afterAll(() => t.close());

  it('is a valid OpenAPI 3.1 document, and /docs-json serves it', async () => {
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
    const publicUrl = new URL(t.config.publicUrl);
    const atPublicUrl = await t.inject({ url: '/docs-json', headers: { host: publicUrl.host } });
    expect(atPublicUrl.json()).toEqual(document);
    expect(document.servers).toEqual([
      {
        url: t.config.publicUrl,
        description: expect.stringContaining('test environment'),
        'x-internal': false,
      },
    ]);
    // Reached under another allowed name, Swagger UI's "Try it out" stays on that origin.
    const elsewhere = await t.inject({ url: '/docs-json', headers: { host: 'localhost:8080' } });
    expect(elsewhere.json<typeof document>().servers?.map((s) => s.url)).toEqual([
      'http://localhost:8080',
      t.config.publicUrl,
    ]);
  });

  it('matches the committed snapshot', () => {
    if (UPDATE) {
      writeFileSync(SNAPSHOT, `${JSON.stringify(document, null, 2)}\n`);
      writeFileSync(CLIENT_TYPES, clientTypes(SNAPSHOT));
    }
    const committed = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as unknown;
    if (JSON.stringify(committed) !== JSON.stringify(document)) {
      expect({ note: HOW_TO_UPDATE, document }).toEqual({ note: HOW_TO_UPDATE, document: committed });
    }
  });

  it('keeps the typed client generated from the snapshot up to date', () => {
    expect(readFileSync(CLIENT_TYPES, 'utf8')).toBe(clientTypes(SNAPSHOT));
  });

  describe.each(VERSIONED)('API version $version', ({ version, snapshot, types }) => {
    let versioned: ReturnType<typeof buildOpenApiDocument>;
    beforeAll(() => {
      versioned = JSON.parse(JSON.stringify(buildOpenApiDocument(t.app, version))) as typeof versioned;
    });

    it('is a valid document served at /docs/v<n>-json, with the resources under /api/v<n>/', async () => {
      await expect(SwaggerParser.validate(structuredClone(versioned) as never)).resolves.toBeDefined();
      const publicUrl = new URL(t.config.publicUrl);
      const served = await t.inject({ url: `/docs/v${version}-json`, headers: { host: publicUrl.host } });
      expect(served.json()).toEqual(versioned);
      expect(versioned.info.version).toBe(`${version}.0`);
      const paths = Object.keys(versioned.paths);
      expect(paths).toContain(`/api/v${version}/products/{id}`);
      expect(paths).not.toContain('/api/products');
      // Routes that are not resources are the same in every version.
      expect(paths).toContain('/api/auth/login');
      expect(paths.filter((p) => /^\/api\/v\d+\//.test(p) && !p.startsWith(`/api/v${version}/`))).toEqual([]);
    });

    it('matches its committed snapshot and typed client', () => {
      if (UPDATE) {
        writeFileSync(snapshot, `${JSON.stringify(versioned, null, 2)}\n`);
        writeFileSync(types, clientTypes(snapshot));
      }
      const committed = JSON.parse(readFileSync(snapshot, 'utf8')) as unknown;
      if (JSON.stringify(committed) !== JSON.stringify(versioned)) {
        expect({ note: HOW_TO_UPDATE, versioned }).toEqual({ note: HOW_TO_UPDATE, versioned: committed });
      }
      expect(readFileSync(types, 'utf8')).toBe(clientTypes(snapshot));
    });
  });

  it('documents products v2 price as money and the deprecated v1 with its headers', () => {
    type Schemas = Record<string, { properties: Record<string, Record<string, unknown>> }>;
    const v2 = JSON.parse(readFileSync(VERSIONED[0].snapshot, 'utf8')) as typeof document;
    const price = (v2.components!.schemas as Schemas).Product.properties.price;
    expect(price).toMatchObject({
      type: 'object',
      required: ['amount', 'currency'],
      properties: {
        amount: { type: 'string', example: '12.50' },
        currency: { enum: ['EUR'] },
      },
    });
    // Bodies take the same shape; the amount keeps the column's rules (a decimal, at least 0).
    expect((v2.components!.schemas as Schemas).ProductCreate.properties.price).toMatchObject({
      required: ['amount', 'currency'],
      properties: { amount: { anyOf: expect.arrayContaining([expect.objectContaining({ minimum: 0 })]) } },
    });
    expect((document.components!.schemas as Schemas).Product.properties.price).toMatchObject({
      type: 'string',
    });
    const v1Get = document.paths['/api/products/{id}'].get!;
    expect(v1Get.deprecated).toBe(true);
    expect(Object.keys((v1Get.responses['200'] as { headers: object }).headers)).toEqual(
      expect.arrayContaining(['Deprecation', 'Sunset', 'Link']),
    );
    expect(v2.paths['/api/v2/products/{id}'].get!.deprecated).toBeUndefined();
    expect(document.paths['/api/categories'].get!.deprecated).toBeUndefined();
  });

  /** A response, with a shared one (`$ref: '#/components/responses/…'`) resolved. */
  const resolve = (response: Response | undefined): Response | undefined =>
    response?.$ref
      ? (document.components as { responses: Record<string, Response> }).responses[
          response.$ref.replace('#/components/responses/', '')
        ]
      : response;

  it('describes every generated route: stable operationId, summary, typed parameters, Problem errors', () => {
    const registry = t.app.get(ResourceRegistry);
    const operations = new Map<string, Operation>();
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item as Record<string, Operation>)) {
        if (operation.operationId) {
          operations.set(operation.operationId, operation);
        }
      }
    }
    for (const definition of registry.all()) {
      const prefix = definition.path.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      for (const action of definition.actions) {
        const operation = operations.get(`${prefix}.${action}`);
        expect(operation).toBeDefined();
        expect(operation?.summary).toEqual(expect.any(String));
        expect(operation?.security?.length).toBeGreaterThan(0);
        const errors = Object.entries(operation!.responses).filter(([status]) => +status >= 400);
        expect(operation!.responses).not.toHaveProperty('default');
        expect(errors.map(([status]) => status)).toEqual(
          expect.arrayContaining(['401', '429', '500', '503']),
        );
        for (const [, response] of errors) {
          expect(resolve(response)?.content?.['application/problem+json']?.schema?.$ref).toBe(
            '#/components/schemas/Problem',
          );
        }
      }
    }
    const list = operations.get('products.list')!;
    const names = list.parameters!.map((p) => p.name);
    expect(names.slice(0, 4)).toEqual(['page', 'limit', 'after', 'sort']);
    expect(names.slice(-4)).toEqual(['q', 'fields', 'include', 'trashed']);
    // One flat parameter per allowed filter, which every generator can send without a custom serializer.
    expect(names).not.toContain('filter');
    expect(names).toEqual(
      expect.arrayContaining([
        'filter[status]',
        'filter[price][gte]',
        'filter[category.slug][in]',
        'filter[id][in]',
      ]),
    );
    expect(names).not.toContain('filter[status][gte]'); // not an operator of an enum
    expect(list.parameters?.find((p) => p.name === 'filter[status][in]')).toMatchObject({
      in: 'query',
      style: 'form',
      explode: false,
      schema: { type: 'array', items: { enum: ['draft', 'active', 'archived'] }, maxItems: 100 },
    });
    // No example a server would refuse: a client that sends the defaults sends no filter.
    for (const parameter of list.parameters!.filter((p) => p.name.startsWith('filter['))) {
      expect(JSON.stringify(parameter)).not.toMatch(/"examples?"/);
    }
    expect(operations.get('products.list')?.security).toEqual([{}, { bearer: [] }, { apiKey: [] }]);
    expect(operations.get('products.create')?.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(operations.get('orders.place')).toBeDefined();
    expect(operations.get('tags.restore')).toBeUndefined();
  });

  it("declares the bearer and API-key schemes and shows every route's requirement with 401/403", () => {
    expect(document.components?.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
      apiKey: expect.objectContaining({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'nst_…',
        description: expect.stringContaining('Authorization: Bearer nst_'),
      }),
    });
    const operations = new Map<string, Operation>();
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item as Record<string, Operation>)) {
        operations.set(operation.operationId!, operation);
        // Every operation either is public (`security: []`) or accepts either credential.
        expect(operation.security).toBeDefined();
        if (operation.security!.length > 0) {
          expect(operation.security).toEqual(expect.arrayContaining([{ bearer: [] }, { apiKey: [] }]));
          const optional = operation.security!.some((entry) => JSON.stringify(entry) === '{}');
          if (!optional) {
            expect(
              resolve(operation.responses['401'])?.content?.['application/problem+json']?.schema?.$ref,
            ).toBe('#/components/schemas/Problem');
          }
        }
      }
    }
    expect(document.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    for (const id of ['auth.login', 'auth.refresh', 'auth.logout', 'healthLive', 'healthReady', 'metrics']) {
      expect(operations.get(id)).toBeDefined();
      expect(operations.get(id)?.security).toEqual([]); // public: overrides the document's requirement
    }
    for (const id of [
      'auth.me',
      'orders.place',
      'auth.apiKeys.create',
      'auth.apiKeys.list',
      'auth.apiKeys.revoke',
    ]) {
      expect(operations.get(id)?.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
      expect(operations.get(id)?.responses).toHaveProperty('401');
    }
    // API keys cannot manage API keys: 403 is documented.
    expect(Object.keys(operations.get('auth.apiKeys.create')!.responses)).toEqual(
      expect.arrayContaining(['201', '401', '403', '422']),
    );
    for (const id of ['products.create', 'products.update', 'products.delete', 'orders.list', 'users.get']) {
      expect(Object.keys(operations.get(id)!.responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
    expect(operations.get('categories.get')?.responses).not.toHaveProperty('403');
    // A public read of a soft-deleting resource still answers 401/403 to trashed= (the trash needs change).
    expect(Object.keys(operations.get('products.get')!.responses)).toEqual(
      expect.arrayContaining(['401', '403']),
    );
  });

  it('derives request and response schemas from the entity', () => {
    const schemas = document.components!.schemas as Record<
      string,
      {
        required?: string[];
        properties: Record<string, Record<string, unknown>>;
        additionalProperties?: boolean;
      }
    >;
    expect(schemas.ProductCreate.required?.sort()).toEqual(['categoryId', 'name', 'price', 'sku']);
    expect(schemas.ProductCreate.additionalProperties).toBe(false);
    expect(Object.keys(schemas.ProductCreate.properties)).not.toEqual(expect.arrayContaining(['id']));
    expect(schemas.ProductCreate.properties).not.toHaveProperty('createdAt');
    expect(schemas.ProductUpdate.required).toBeUndefined();
    expect(schemas.Product.properties.id).toMatchObject({ type: 'integer', readOnly: true });
    expect(schemas.Product.properties.price).toMatchObject({ type: 'string', example: '12.50' });
    expect(schemas.Product.properties.status).toMatchObject({ enum: ['draft', 'active', 'archived'] });
    expect(schemas.Product.properties.tagIds).toMatchObject({ type: 'array' });
    expect(schemas.Product.properties.category).toMatchObject({
      anyOf: [{ $ref: '#/components/schemas/Category' }, { type: 'null' }],
    });
    expect(schemas.Order.properties.items).toMatchObject({
      type: 'array',
      items: { $ref: '#/components/schemas/OrderItem' },
    });
  });
});
