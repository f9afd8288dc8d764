import 'src/app/catalog/catalog.factories';
import { ClientError, gql } from 'graphql-request';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { ResourceService } from 'src/framework/resource/resource.service';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { client, raw } from 'test/graphql/graphql-client';

/**
 * The same rules as REST on GraphQL (issue 22 item 2): permissions, public actions, staff-only resources,
 * ownership in lists and nested fields, and errors with `extensions.code` (no stack, no SQL).
 */

const ORDERS = gql`
  {
    orders(sort: [createdAt_ASC]) {
      totalCount
      edges {
        node {
          id
          customerId
          items {
            quantity
            product {
              name
            }
          }
        }
      }
    }
  }
`;

interface OrdersAnswer {
  orders: {
    totalCount: number;
    edges: {
      node: { id: number; customerId: number; items: { quantity: number; product: { name: string } }[] };
    }[];
  };
}

describe('GraphQL permissions and ownership', () => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let clerk: TestUser;
  let productId: number;
  const orderOf = new Map<number, number>();

  async function place(user: TestUser, quantity: number): Promise<number> {
    const res = await t.actingAs(user).inject({
      method: 'POST',
      url: '/api/orders',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ items: [{ productId, quantity }] }),
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: number }>().id;
  }

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { WORKERS: 'off' } });
    const category = await t.factory(Category).create();
    productId = (await t.factory(Product).create({ name: 'Teapot', category, stock: 100 })).id;
    alice = await t.createUser();
    bob = await t.createUser();
    clerk = await t.createUser({ permissions: ['order-items.view'] });
    orderOf.set(alice.id, await place(alice, 1));
    orderOf.set(bob.id, await place(bob, 2));
  });

  afterAll(async () => {
    await t?.close();
  });

  it('lets anonymous callers use public actions only', async () => {
    const open = await raw(t.anonymous(), '{ products { totalCount } categories { totalCount } }');
    expect(open.errors).toBeUndefined();
    const closed = await raw(t.anonymous(), '{ orders { totalCount } }');
    expect(closed.status).toBe(401);
    expect(closed.errors?.[0]).toMatchObject({
      path: ['orders'],
      extensions: { code: 'UNAUTHENTICATED', status: 401, type: 'urn:nestor:problem:unauthorized' },
    });
    const write = await raw(t.anonymous(), 'mutation { deleteProduct(id: 1) }');
    expect(write.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuses what the caller lacks the permission for, and staff-only resources to customers', async () => {
    const items = await raw(t.actingAs(alice), '{ orderItems { totalCount } }');
    expect(items.errors?.[0]).toMatchObject({
      message: 'This needs the order-items.view permission.',
      extensions: { code: 'FORBIDDEN', status: 403 },
    });
    const users = await raw(t.actingAs(clerk), '{ users { totalCount } }');
    expect(users.errors?.[0].extensions.code).toBe('FORBIDDEN');
    expect((await raw(t, '{ users { totalCount } }')).errors).toBeUndefined();
  });

  it('shows a customer only their own orders, in lists, by id and nested', async () => {
    const mine = await client(t.actingAs(alice)).request<OrdersAnswer>(ORDERS);
    expect(mine.orders.totalCount).toBe(1);
    expect(mine.orders.edges[0].node).toMatchObject({
      id: orderOf.get(alice.id),
      customerId: alice.id,
      items: [{ quantity: 1, product: { name: 'Teapot' } }],
    });
    const other = await client(t.actingAs(alice)).request<{ order: unknown }>(
      gql`
        query ($id: Int!) {
          order(id: $id) {
            id
          }
        }
      `,
      { id: orderOf.get(bob.id) },
    );
    expect(other.order).toBeNull();
    const all = await client(t).request<OrdersAnswer>(ORDERS);
    expect(all.orders.totalCount).toBe(2);
  });

  it('scopes nested owned rows to the caller: a clerk sees every line but only their own orders', async () => {
    const { orderItems } = await client(t.actingAs(clerk)).request<{
      orderItems: { edges: { node: { orderId: number; order: { id: number } | null } }[] };
    }>('{ orderItems { edges { node { orderId order { id } } } } }');
    expect(orderItems.edges).toHaveLength(2);
    for (const { node } of orderItems.edges) {
      expect(node.order).toBeNull(); // neither order is the clerk's, and the clerk lacks orders.view
    }
  });

  it('answers a bad credential with 401 before anything runs, as REST does', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
      payload: JSON.stringify({ query: '{ products { totalCount } }' }),
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.json()).toMatchObject({ data: null, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    await expect(
      client(t, '/graphql', { authorization: 'Bearer nope' }).request('{ viewer { id } }'),
    ).rejects.toBeInstanceOf(ClientError);
  });

  it('accepts API keys with their scoped permissions, and tells the viewer who they are', async () => {
    const key = await t.createApiKey(clerk, ['order-items.view']);
    const { viewer } = await client(t.withApiKey(key)).request<{
      viewer: { email: string; permissions: string[] };
    }>('{ viewer { email permissions } }');
    expect(viewer).toEqual({ email: clerk.email, permissions: ['order-items.view'] });
    expect((await client(t.anonymous()).request<{ viewer: null }>('{ viewer { id } }')).viewer).toBeNull();
  });

  it('hides an unexpected error behind INTERNAL_SERVER_ERROR and a requestId: no message, stack or SQL', async () => {
    const failing = jest
      .spyOn(ResourceService.prototype, 'list')
      .mockRejectedValueOnce(
        new Error('column "secret" of relation "product" does not exist: SELECT secret'),
      );
    try {
      const res = await t.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json', 'x-request-id': 'gql-internal-1' },
        payload: JSON.stringify({ query: '{ products { totalCount } }' }),
      });
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toMatch(/secret|SELECT|at .*\.ts/);
      expect(res.json()).toMatchObject({
        errors: [{ extensions: { code: 'INTERNAL_SERVER_ERROR', status: 500, requestId: 'gql-internal-1' } }],
      });
    } finally {
      failing.mockRestore();
    }
  });
});
