import createClient from 'openapi-fetch';
import { AppModule } from 'src/app.module';
import { TestApp, createTestApp } from 'src/framework/testing';
import type { paths } from 'test/generated/api';

/**
 * Drives a shop scenario through a client typed from the committed OpenAPI snapshot: if the document
 * and the server disagree (a parameter, a schema, a status), this scenario breaks — at `npm run check`
 * for types, here for behaviour.
 */
/** Full rows (a `fields=` answer has its own media type, with sparse rows) and problem details. */
type Json = 'application/json' | 'application/problem+json';

describe('Typed client generated from the OpenAPI document', () => {
  let t: TestApp;
  let api: ReturnType<typeof createClient<paths, Json>>;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    await t.app.listen(0, '127.0.0.1');
    // No custom serializer: every filter is a parameter of its own (filter[price][gte]), and lists go in
    // openapi-fetch's default (exploded) form, which the server reads like the documented comma form.
    api = createClient<paths, Json>({
      baseUrl: await t.app.getUrl(),
      headers: t.superuser!.headers,
    });
  });
  afterAll(() => t.close());

  it('creates, lists, filters, includes, updates with If-Match, orders and deletes', async () => {
    const category = await api.POST('/api/categories', { body: { name: 'Kitchen', slug: 'kitchen' } });
    expect(category.response.status).toBe(201);
    const categoryId = category.data!.id;

    const created = [];
    for (const [sku, price] of [
      ['CUP-001', '4.50'],
      ['CUP-002', '12.00'],
      ['POT-001', '39.90'],
    ] as const) {
      const res = await api.POST('/api/products', {
        body: { name: `Item ${sku}`, sku, price, stock: 5, status: 'active', categoryId },
      });
      expect(res.response.status).toBe(201);
      expect(res.response.headers.get('location')).toBe(`/api/products/${res.data!.id}`);
      created.push(res.data!);
    }

    const list = await api.GET('/api/products', {
      params: {
        query: {
          'filter[price][gte]': '10',
          'filter[status][in]': ['active', 'draft'],
          sort: ['-price'],
          include: ['category'],
          limit: 5,
        },
      },
    });
    expect(list.response.status).toBe(200);
    expect(list.data!.data.map((p) => p.sku)).toEqual(['POT-001', 'CUP-002']);
    expect(list.data!.data[0].category).toMatchObject({ id: categoryId, slug: 'kitchen' });
    expect(list.data!.meta).toMatchObject({ page: 1, limit: 5, total: 2, pageCount: 1 });

    const sparse = await api.GET('/api/products', {
      params: { query: { fields: ['sku', 'price'], sort: ['price'], limit: 2 } },
    });
    expect(sparse.response.headers.get('content-type')).toContain('application/vnd.nestor.sparse+json');
    expect(Object.keys(sparse.data!.data[0]).sort()).toEqual(['id', 'price', 'sku']);
    const next = await api.GET('/api/products', {
      params: { query: { sort: ['price'], limit: 2, after: sparse.data!.meta.nextCursor! } },
    });
    expect(next.data!.data.map((p) => p.sku)).toEqual(['POT-001']);

    const cup = await api.GET('/api/products/{id}', { params: { path: { id: created[0].id } } });
    const etag = cup.response.headers.get('etag')!;
    const updated = await api.PATCH('/api/products/{id}', {
      params: { path: { id: created[0].id }, header: { 'If-Match': etag } },
      body: { price: '5.00' },
    });
    expect(updated.data?.price).toBe('5.00');
    const stale = await api.PATCH('/api/products/{id}', {
      params: { path: { id: created[0].id }, header: { 'If-Match': etag } },
      body: { price: '6.00' },
    });
    expect(stale.response.status).toBe(412);
    expect(stale.error).toMatchObject({ status: 412, type: 'urn:nestor:problem:precondition-failed' });

    const order = await api.POST('/api/orders', {
      body: { items: [{ productId: created[0].id, quantity: 2 }] },
    });
    expect(order.response.status).toBe(201);
    const placed = await api.GET('/api/orders/{id}', {
      params: { path: { id: order.data!.id }, query: { include: ['items'] } },
    });
    expect(placed.data).toMatchObject({ total: '10.00', items: [{ productId: created[0].id, quantity: 2 }] });

    // A sort the document does not allow does not type-check; sent anyway, the server refuses it.
    const bad = await api.GET('/api/products', { params: { query: { sort: ['prise'] as never } } });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.errors?.[0]).toMatchObject({ parameter: 'sort' });

    expect(
      (await api.DELETE('/api/products/{id}', { params: { path: { id: created[1].id } } })).response.status,
    ).toBe(204);
    const restored = await api.POST('/api/products/{id}/restore', {
      params: { path: { id: created[1].id } },
    });
    expect(restored.data?.deletedAt).toBeNull();
  });
});
