import type { LightMyRequestResponse } from 'fastify';
import { AppModule } from 'src/app.module';
import type { components as V1 } from 'test/generated/api';
import type { components as V2 } from 'test/generated/api-v2';
import 'src/app/catalog/catalog.factories';
import { Product } from 'src/app/catalog/product.entity';
import { TestApp, createTestApp } from 'src/framework/testing';
import { Controller, Get, Post } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { ApiVersion } from 'nestor';
import { serveControllerVersions } from 'src/framework/resource/api-version.decorator';

/**
 * API versions (issue 21 §4) on the shop: products v2 shows `price` as `{ amount, currency }` from the same
 * rows v1 shows as a decimal string; v1 (the default, at `/api/products` and `/api/v1/products`) is
 * deprecated and says so in every answer.
 */

/** Each version's rows as its generated client types them (test/generated/, from the committed documents). */
type ProductV1 = V1['schemas']['Product'];
type ProductV2 = V2['schemas']['Product'];

interface Problem {
  status: number;
  errors?: { pointer?: string; code: string }[];
}

const SUNSET = 'Wed, 30 Jun 2027 00:00:00 GMT';
const DEPRECATED = `@${Date.UTC(2026, 11, 1) / 1000}`;

function ok<T>(res: LightMyRequestResponse, status = 200): T {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  return res.json<T>();
}

describe('API versions: products v1 and v2 on the same rows', () => {
  let t: TestApp;
  let categoryId: number;
  let sku = 0;

  const send = (method: 'POST' | 'PATCH', url: string, payload: unknown, headers = {}) =>
    t.inject({
      method,
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(payload),
    });

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    categoryId = ok<{ id: number }>(
      await send('POST', '/api/categories', { name: 'Versions', slug: 'versions' }),
      201,
    ).id;
  });
  afterAll(() => t.close());

  it('creates through v2 and reads the same row through v1, the default path and v2', async () => {
    const created = await send('POST', '/api/v2/products', {
      name: 'Mug',
      sku: `V-${++sku}`,
      price: { amount: '12.50', currency: 'EUR' },
      categoryId,
    });
    const row = ok<ProductV2>(created, 201);
    expect(row.price).toEqual({ amount: '12.50', currency: 'EUR' });
    expect(created.headers.location).toBe(`/api/v2/products/${row.id}`);
    expect(created.headers.deprecation).toBeUndefined();

    const v1 = ok<ProductV1>(await t.inject(`/api/v1/products/${row.id}`));
    const byDefault = ok<ProductV1>(await t.inject(`/api/products/${row.id}`));
    expect(v1).toEqual(byDefault);
    expect(v1).toEqual({ ...row, price: '12.50' });
    expect(ok<ProductV2>(await t.inject(`/api/v2/products/${row.id}`))).toEqual(row);
  });

  it('keeps v1 clients working: a decimal price written through v1 reads as money through v2', async () => {
    const row = ok<ProductV1>(
      await send('POST', '/api/products', { name: 'Pot', sku: `V-${++sku}`, price: '3.20', categoryId }),
      201,
    );
    expect(row.price).toBe('3.20');
    const patched = await send('PATCH', `/api/v1/products/${row.id}`, { price: '4.00' });
    expect(ok<ProductV1>(patched).price).toBe('4.00');
    const v2 = ok<ProductV2>(await t.inject(`/api/v2/products/${row.id}`));
    expect(v2.price).toEqual({ amount: '4.00', currency: 'EUR' });

    // An ETag from one version guards a write through the other: both name the same stored row.
    const etag = patched.headers.etag as string;
    const stale = await send(
      'PATCH',
      `/api/v2/products/${row.id}`,
      { price: { amount: '5.00', currency: 'EUR' } },
      { 'if-match': etag },
    );
    expect(ok<ProductV2>(stale).price.amount).toBe('5.00');
    const refused = await send('PATCH', `/api/v2/products/${row.id}`, { name: 'Late' }, { 'if-match': etag });
    expect(refused.statusCode).toBe(412);
  });

  it('lists, filters, sorts and includes in v2 with money prices (filters compare the amount)', async () => {
    const page = ok<{ data: ProductV2[]; links: { self: string } }>(
      await t.inject(
        `/api/v2/products?filter[price][gte]=4&sort=price&include=category&fields=id,price,categoryId`,
      ),
    );
    expect(page.data.length).toBeGreaterThan(0);
    for (const product of page.data) {
      expect(product.price).toEqual({ amount: expect.stringMatching(/^\d+\.\d{2}$/), currency: 'EUR' });
      expect(Number(product.price.amount)).toBeGreaterThanOrEqual(4);
    }
    expect(page.links.self).toMatch(/^\/api\/v2\/products\?/);
    const v1 = ok<{ data: ProductV1[] }>(await t.inject('/api/v1/products?filter[price][gte]=4&sort=price'));
    expect(v1.data.map((p) => p.price)).toEqual(page.data.map((p) => p.price.amount));
  });

  it('serves resources that did not change in v2 the same in both versions', async () => {
    const v1 = ok<{ data: unknown[] }>(await t.inject('/api/v1/categories'));
    const v2 = ok<{ data: unknown[] }>(await t.inject('/api/v2/categories'));
    expect(v2.data).toEqual(v1.data);
  });

  it('validates v2 bodies with the same field rules, pointing inside the money object', async () => {
    const bad = await send('POST', '/api/v2/products', {
      name: 'Bad',
      sku: `V-${++sku}`,
      price: { amount: '-1', currency: 'EUR' },
      categoryId,
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(bad.json<Problem>().errors).toEqual([expect.objectContaining({ pointer: '/price/amount' })]);

    const wrongShape = await send('POST', '/api/v2/products', {
      name: 'Bad',
      sku: `V-${++sku}`,
      price: { amount: '1.00', currency: 'USD', cents: 100 },
      categoryId,
    });
    expect(wrongShape.statusCode).toBe(422);
    expect(wrongShape.json<Problem>().errors?.map((e) => [e.pointer, e.code])).toEqual([
      ['/price/currency', 'isIn'],
      ['/price/cents', 'unknown'],
    ]);
    // A v1 body sent to v2 is refused, not misread.
    const v1Body = await send('POST', '/api/v2/products', {
      name: 'Bad',
      sku: `V-${++sku}`,
      price: '1.00',
      categoryId,
    });
    expect(v1Body.json<Problem>().errors).toEqual([
      expect.objectContaining({ pointer: '/price', code: 'type' }),
    ]);
  });

  it('marks the deprecated v1 with Deprecation, Sunset and a successor Link; v2 carries none', async () => {
    for (const url of ['/api/products', '/api/v1/products', '/api/v1/products?limit=1']) {
      const res = await t.inject(url);
      expect(res.statusCode).toBe(200);
      expect(res.headers).toMatchObject({
        deprecation: DEPRECATED,
        sunset: SUNSET,
        link: '</api/v2/products>; rel="successor-version"',
      });
    }
    // Every answer: a request the authentication guard refuses, an unknown row, and HEAD too.
    const refused = await send('POST', '/api/v1/products', {}, { authorization: undefined });
    const missing = await t.inject('/api/v1/products/999999');
    const head = await t.inject({ method: 'HEAD', url: '/api/products' });
    expect([refused.statusCode, missing.statusCode, head.statusCode]).toEqual([401, 404, 200]);
    for (const res of [refused, missing, head]) {
      expect(res.headers).toMatchObject({ deprecation: DEPRECATED, sunset: SUNSET });
    }
    expect(
      (await send('POST', '/api/v2/products', {}, { authorization: undefined })).headers.deprecation,
    ).toBeUndefined();
    // Categories are not deprecated in v1, and v2 products are current.
    for (const url of ['/api/v1/categories', '/api/v2/products']) {
      const res = await t.inject(url);
      expect(res.headers.deprecation).toBeUndefined();
      expect(res.headers.sunset).toBeUndefined();
    }
  });

  it('serves the hand-written POST /api/orders in v2 too, and marks its deprecated v1', async () => {
    const product = await t.factory(Product).create({ stock: 10 });
    const order = { items: [{ productId: product.id, quantity: 1 }] };
    const v2 = await send('POST', '/api/v2/orders', order);
    const placed = ok<{ id: number }>(v2, 201);
    expect(v2.headers.location).toBe(`/api/v2/orders/${placed.id}`);
    expect(v2.headers.deprecation).toBeUndefined();
    for (const url of ['/api/orders', '/api/v1/orders']) {
      const v1 = await send('POST', url, order);
      expect(v1.statusCode).toBe(201);
      expect(v1.headers).toMatchObject({
        deprecation: DEPRECATED,
        sunset: SUNSET,
        link: '</api/v2/orders>; rel="successor-version"',
      });
    }
    // The generated GET of the same path keeps the resource's own (undeprecated) orders v1.
    expect((await t.inject('/api/orders')).headers.deprecation).toBeUndefined();
    expect((await send('POST', '/api/v3/orders', order)).statusCode).toBe(404);
  });

  it('documents POST orders only in the documents of the versions serving it', async () => {
    const v1 = ok<{ paths: Record<string, Record<string, { deprecated?: boolean }>> }>(
      await t.inject('/docs-json'),
    );
    const v2 = ok<typeof v1>(await t.inject('/docs/v2-json'));
    expect(v1.paths['/api/orders'].post.deprecated).toBe(true);
    expect(v1.paths['/api/v2/orders']).toBeUndefined();
    expect(v2.paths['/api/v2/orders'].post.deprecated).toBeUndefined();
    expect(v2.paths['/api/orders']).toBeUndefined();
  });

  it('answers an unknown version with a 404 problem', async () => {
    for (const url of ['/api/v3/products', '/api/v0/products', '/api/vx/products/1']) {
      const res = await t.inject(url);
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('API versions: API_DEFAULT_VERSION=2 moves the unversioned paths to v2', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { env: { API_DEFAULT_VERSION: '2' } });
  });
  afterAll(() => t.close());

  it('serves v2 at /api/products and keeps /api/v1/products for v1 clients', async () => {
    const product = await t.factory(Product).create();
    const byDefault = ok<ProductV2>(await t.inject(`/api/products/${product.id}`));
    expect(byDefault.price).toEqual({ amount: product.price, currency: 'EUR' });
    expect(byDefault).toEqual(ok<ProductV2>(await t.inject(`/api/v2/products/${product.id}`)));
    const v1 = await t.inject(`/api/v1/products/${product.id}`);
    expect(ok<ProductV1>(v1).price).toBe(product.price);
    expect(v1.headers.deprecation).toBe(DEPRECATED);
  });
});

describe('@ApiVersion on hand-written controllers: paths per handler, boot errors', () => {
  it('gives each handler the paths of its own versions, the unversioned one to the default version', () => {
    @ApiVersion({ 1: {}, 2: {} })
    @Controller('api/things')
    class ThingsController {
      @Get()
      list(): void {}

      @ApiVersion({ 1: { deprecated: '2026-12-01' }, 2: {} })
      @Post()
      createV1(): void {}

      @ApiVersion({ 3: {} })
      @Post()
      createV3(): void {}
    }
    const paths = (name: keyof ThingsController): unknown =>
      Reflect.getMetadata(PATH_METADATA, ThingsController.prototype[name]);
    const routes = serveControllerVersions(ThingsController, '1');
    expect(paths('list')).toEqual(['api/v1/things', 'api/things', 'api/v2/things']);
    expect(paths('createV1')).toEqual(['api/v1/things', 'api/things', 'api/v2/things']);
    expect(paths('createV3')).toEqual(['api/v3/things']);
    expect(routes.map((r) => [r.method, r.path, r.versions])).toEqual([
      ['get', '/things', ['1', '2']],
      ['post', '/things', ['1', '2']],
      ['post', '/things', ['3']],
    ]);
    expect(routes[1].headers.get('1')).toEqual({
      deprecation: DEPRECATED,
      link: '</api/v2/things>; rel="successor-version"',
    });
    // Served again with another default (a second app in the process): from the declared paths.
    serveControllerVersions(ThingsController, '3');
    expect(paths('createV3')).toEqual(['api/v3/things', 'api/things']);
  });

  it.each([
    [{ x: {} }, 'a version is a number'],
    [{ 1: { deprecated: '2026-12-01' } }, 'no newer version'],
    [{ 1: { sunset: '2027-06-30' }, 2: {} }, 'a sunset needs an earlier "deprecated" date'],
    [{ 1: { deprecated: 'soon' }, 2: {} }, 'expected an ISO date'],
    [{}, 'name at least one version'],
  ])('refuses %j at boot with NST-R016', (versions, message) => {
    @ApiVersion(versions)
    @Controller('api/bad')
    class BadController {
      @Get()
      list(): void {}
    }
    expect(() => serveControllerVersions(BadController, '1')).toThrow(/^NST-R016 BadController: .*/);
    expect(() => serveControllerVersions(BadController, '1')).toThrow(message);
  });

  it('refuses a controller outside api/ and two handlers of one route in one version', () => {
    @ApiVersion({ 1: {} })
    @Controller('things')
    class Outside {
      @Get()
      list(): void {}
    }
    expect(() => serveControllerVersions(Outside, '1')).toThrow(/NST-R016 Outside: .*under "api\/"/);

    @Controller('api/twice')
    class Twice {
      @ApiVersion({ 1: {}, 2: {} })
      @Get()
      a(): void {}

      @ApiVersion({ 2: {} })
      @Get()
      b(): void {}
    }
    expect(() => serveControllerVersions(Twice, '1')).toThrow(
      'NST-R016 Twice: @ApiVersion on b: GET /api/twice in version 2 is already served by a',
    );
  });
});
