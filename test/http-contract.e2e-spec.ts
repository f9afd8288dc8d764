import SwaggerParser from '@apidevtools/swagger-parser';
import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { pendingSchemaChanges } from 'src/framework/database/migrations';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown> };
}

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: { pointer?: string; parameter?: string; code: string; message: string }[];
  checks?: Record<string, { status: string }>;
}

/** Asserts the RFC 9457 envelope every error shares and returns the body. */
function problem(res: LightMyRequestResponse, status: number): ProblemBody {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<ProblemBody>();
  expect(body).toMatchObject({ status, title: expect.any(String), type: expect.any(String) });
  expect(body.requestId).toBe(res.headers['x-request-id']);
  return body;
}

describe('HTTP contract on PostgreSQL', () => {
  let t: TestApp;
  let count: () => Promise<number>;

  beforeAll(async () => {
    t = await createTestApp(withFixtures, {
      env: {
        BODY_LIMIT: '1mb',
        CORS_ORIGINS: 'https://shop.example.com',
        REDIS_URL: 'redis://127.0.0.1:6379',
      },
    });
    const dataSource = t.app.get(DataSource);
    count = async () =>
      Number((await dataSource.query<{ n: string }[]>('SELECT count(*) AS n FROM category'))[0].n);
  });
  afterAll(() => t.close());

  const post = (payload: unknown, url = '/test-fixtures/categories') =>
    t.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });

  it('applies the migrations on boot outside production', async () => {
    expect(await count()).toBe(0);
  });

  it("builds exactly the entities' schema from the committed migrations on PostgreSQL", async () => {
    expect((await pendingSchemaChanges(t.app.get(DataSource))).up).toEqual([]);
  });

  it('creates through a validated DTO', async () => {
    const res = await post({ name: 'Books', slug: 'books' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ id: expect.any(Number), name: 'Books' });
  });

  it('answers malformed JSON with 400 problem+json naming the request', async () => {
    const before = await count();
    const res = await t.inject({
      method: 'POST',
      url: '/test-fixtures/categories',
      headers: { 'content-type': 'application/json' },
      payload: '{bad',
    });
    const body = problem(res, 400);
    expect(body.type).toBe('urn:nestor:problem:malformed-body');
    expect(body.instance).toBe('/test-fixtures/categories');
    expect(await count()).toBe(before);
  });

  it('echoes a plain X-Request-Id and replaces one that could forge log lines', async () => {
    const kept = await t.inject({ url: '/nope', headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers['x-request-id']).toBe('abc-123');
    expect(problem(kept, 404).requestId).toBe('abc-123');
    const replaced = await t.inject({ url: '/health/live', headers: { 'x-request-id': 'x'.repeat(300) } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with 404 problem+json', async () => {
    expect(problem(await t.inject('/api/does-not-exist'), 404).detail).toContain('/api/does-not-exist');
  });

  it('answers a wrong content type with 415', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/test-fixtures/categories',
      headers: { 'content-type': 'text/plain' },
      payload: 'name=x',
    });
    expect(problem(res, 415).type).toBe('urn:nestor:problem:unsupported-media-type');
  });

  it('answers a 2 MB body over the 1 MB limit with 413 and writes nothing', async () => {
    const before = await count();
    const res = await post({ name: 'x'.repeat(2 * 1024 * 1024), slug: 'big' });
    expect(problem(res, 413)).toMatchObject({
      type: 'urn:nestor:problem:body-too-large',
      detail: 'The request body exceeds the limit of 1048576 bytes.',
    });
    expect(await count()).toBe(before);
  });

  it('answers validation failures with 422 and a pointer per field, writing nothing', async () => {
    const before = await count();
    const body = problem(await post({ name: '', slug: 7, admin: true }), 422);
    expect(body.type).toBe('urn:nestor:problem:validation-failed');
    expect(body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pointer: '/name', code: 'isLength' }),
        expect.objectContaining({ pointer: '/slug', code: 'isString' }),
        expect.objectContaining({ pointer: '/admin', code: 'unknown' }),
      ]),
    );
    expect(await count()).toBe(before);
  });

  it('answers a bad query parameter with 400', async () => {
    const body = problem(await t.inject('/test-fixtures/categories?limit=abc'), 400);
    expect(body.type).toBe('urn:nestor:problem:bad-query');
    expect(body.errors).toContainEqual(expect.objectContaining({ parameter: 'limit', code: 'isInt' }));
    expect(body.detail).toContain('limit');
  });

  it('turns a unique violation into 409 with a pointer, not 500', async () => {
    await post({ name: 'Games', slug: 'games' });
    const before = await count();
    const body = problem(await post({ name: 'Games', slug: 'games-2' }), 409);
    expect(body.type).toBe('urn:nestor:problem:unique-violation');
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/name', code: 'unique' })]);
    expect(await count()).toBe(before);
  });

  it('turns a foreign-key violation into 409', async () => {
    const body = problem(await post({}, '/test-fixtures/categories/with-missing-parent'), 409);
    expect(body.type).toBe('urn:nestor:problem:foreign-key-violation');
  });

  it('answers an unexpected error with 500 and keeps stack and SQL out of the body', async () => {
    for (const url of ['/test-fixtures/boom', '/test-fixtures/bad-sql']) {
      const res = await t.inject(url);
      const body = problem(res, 500);
      expect(res.body).not.toMatch(/secret internals|SELECT|no_such_column|at \w+ \(|\.ts:\d+/);
      expect(body.detail).toContain('requestId');
    }
  });

  it('sends security headers', async () => {
    const res = await t.inject('/health/live');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('allows CORS only for the configured origins', async () => {
    const allowed = await t.inject({ url: '/health/live', headers: { origin: 'https://shop.example.com' } });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    const other = await t.inject({ url: '/health/live', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('reports live and ready', async () => {
    expect((await t.inject('/health/live')).json()).toEqual({ status: 'ok' });
    const ready = await t.inject('/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, migrations: { status: 'up' }, redis: { status: 'up' } },
    });
  });

  it('exposes request durations by route template and status in Prometheus format', async () => {
    await t.inject('/test-fixtures/categories?limit=5');
    await t.inject('/no/such/thing/42');
    const res = await t.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/test-fixtures\/categories",status_code="200"\} [1-9]/,
    );
    expect(res.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\}/,
    );
    expect(res.body).not.toContain('/no/such/thing/42');
    expect(res.body).toContain('process_resident_memory_bytes');
  });

  it('serves Swagger UI and a valid OpenAPI 3.1 document whose every error is a Problem', async () => {
    const ui = await t.inject('/docs');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');

    const res = await t.inject('/docs-json');
    expect(res.statusCode).toBe(200);
    const document = res.json<OpenApiDocument>();
    expect(document.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
    expect(document.components?.schemas?.Problem).toMatchObject({ required: ['type', 'title', 'status'] });
    const operations = Object.values(document.paths).flatMap((item) =>
      Object.values(item).filter(
        (op): op is { responses: Record<string, unknown> } =>
          typeof op === 'object' && op !== null && 'responses' in op,
      ),
    );
    expect(operations.length).toBeGreaterThan(3);
    const responses = (document.components as { responses: Record<string, { content: unknown }> }).responses;
    for (const operation of operations) {
      // Real statuses only: a client learns what can happen from the operation, not from a catch-all.
      expect(operation.responses).not.toHaveProperty('default');
      const errors = Object.entries(operation.responses).filter(([status]) => +status >= 400);
      expect(errors.map(([status]) => status)).toEqual(expect.arrayContaining(['401', '500', '503']));
      for (const [, response] of errors) {
        const name = (response as { $ref: string }).$ref.replace('#/components/responses/', '');
        expect(responses[name].content).toEqual({
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        });
      }
    }
  });
});
