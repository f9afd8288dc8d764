import 'src/app/catalog/catalog.factories';
import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';

/**
 * Live updates (issue 22 item 4) through graphql-ws, the third-party client, over a real WebSocket:
 * per-resource created/updated/deleted subscriptions, after COMMIT only, with REST's permissions and
 * ownership, and across processes through Redis pub/sub.
 */

interface Received {
  data?: Record<string, Record<string, unknown>>;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One subscription's answers as they arrive; `next()` waits for the following one. */
class Feed {
  private readonly items: Received[] = [];
  private waiting?: (item: Received) => void;
  readonly done: Promise<void>;
  private readonly stop: () => void;

  constructor(client: Client, query: string, variables?: Record<string, unknown>) {
    let finish!: () => void;
    this.done = new Promise((resolve) => (finish = resolve));
    const push = (item: Received) => {
      if (this.waiting) {
        const waiting = this.waiting;
        this.waiting = undefined;
        waiting(item);
      } else {
        this.items.push(item);
      }
    };
    this.stop = client.subscribe<Record<string, Record<string, unknown>>>(
      { query, variables },
      {
        next: (value) => push(value as Received),
        error: (error) =>
          push({ errors: Array.isArray(error) ? (error as Received['errors']) : [error as never] }),
        complete: finish,
      },
    );
  }

  next(timeoutMs = 5000): Promise<Received> {
    const queued = this.items.shift();
    if (queued) {
      return Promise.resolve(queued);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no event within the time')), timeoutMs);
      this.waiting = (item) => {
        clearTimeout(timer);
        resolve(item);
      };
    });
  }

  /** Nothing arrives within `ms` (the write that would have sent it has long been answered). */
  async silent(ms = 400): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    expect(this.items).toEqual([]);
  }

  close(): void {
    this.stop();
  }
}

function wsClient(t: TestApp, user?: TestUser, headers?: Record<string, string>): Client {
  const { port } = t.app.getHttpServer().address() as { port: number };
  // A browser's socket: its cookie and Origin travel on the upgrade request.
  class BrowserSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  }
  return createClient({
    url: `ws://127.0.0.1:${port}/graphql`,
    webSocketImpl: headers ? BrowserSocket : WebSocket,
    connectionParams: user ? { authorization: `Bearer ${user.accessToken}` } : {},
    retryAttempts: 0,
  });
}

/** Waits until the server has registered the subscription (a write before that would not be seen). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

async function rest(
  t: TestApp,
  user: TestUser | undefined,
  method: 'POST' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const client = user ? t.actingAs(user) : t;
  return client.inject({
    method,
    url,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

describe('GraphQL live updates', () => {
  let t: TestApp;
  let staff: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let category: Category;
  let productId: number;
  const clients: Client[] = [];
  const open = (user?: TestUser) => {
    const client = wsClient(t, user);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { WORKERS: 'off' } });
    await t.app.listen(0, '127.0.0.1');
    staff = t.superuser!;
    alice = await t.createUser();
    bob = await t.createUser();
    category = await t.factory(Category).create({ name: 'Live' });
    productId = (await t.factory(Product).create({ name: 'Kettle', category, stock: 100 })).id;
  });

  afterAll(async () => {
    await Promise.all(clients.map(async (client) => client.dispose()));
    await t?.close();
  });

  it('sends a created row after its commit, with nested relations, to anyone who may list it', async () => {
    const feed = new Feed(open(), 'subscription { productCreated { id name category { name } } }');
    await settle();
    const res = await rest(t, staff, 'POST', '/api/products', {
      name: 'Teapot',
      sku: `TP-${randomBytes(3).toString('hex').toUpperCase()}`,
      price: '12.50',
      categoryId: category.id,
    });
    expect(res.json()).toMatchObject({ name: 'Teapot' });
    const event = await feed.next();
    expect(event.errors).toBeUndefined();
    expect(event.data?.productCreated).toEqual({
      id: res.json<{ id: number }>().id,
      name: 'Teapot',
      category: { name: 'Live' },
    });
    feed.close();
  });

  it('sends nothing for a write that was refused or rolled back', async () => {
    const feed = new Feed(open(staff), `subscription { productUpdated(id: ${productId}) { id stock } }`);
    await settle();
    const stale = await rest(
      t,
      staff,
      'PATCH',
      `/api/products/${productId}`,
      { stock: 1 },
      { 'if-match': '"stale"' },
    );
    expect(stale.statusCode).toBe(412);
    const invalid = await rest(t, staff, 'PATCH', `/api/products/${productId}`, { stock: -5 });
    expect(invalid.statusCode).toBe(422);
    await feed.silent();
    const ok = await rest(t, staff, 'PATCH', `/api/products/${productId}`, { stock: 7 });
    expect(ok.statusCode).toBe(200);
    expect((await feed.next()).data?.productUpdated).toEqual({ id: productId, stock: 7 });
    feed.close();
  });

  it('follows one row by id, and sends a deleted row as it was', async () => {
    const other = await t.factory(Product).create({ name: 'Cup', category });
    const doomed = await t.factory(Product).create({ name: 'Saucer', category });
    const feed = new Feed(open(staff), `subscription { productDeleted(id: ${doomed.id}) { id name } }`);
    await settle();
    expect((await rest(t, staff, 'DELETE', `/api/products/${other.id}`)).statusCode).toBe(204);
    expect((await rest(t, staff, 'DELETE', `/api/products/${doomed.id}`)).statusCode).toBe(204);
    expect((await feed.next()).data?.productDeleted).toEqual({ id: doomed.id, name: 'Saucer' });
    await feed.silent();
    feed.close();
  });

  it('sends a customer their own orders only, nested lines included', async () => {
    const query = 'subscription { orderCreated { id customerId items { quantity product { name } } } }';
    const aliceFeed = new Feed(open(alice), query);
    const staffFeed = new Feed(open(staff), query);
    await settle();
    const place = async (user: TestUser, quantity: number) => {
      const res = await rest(t, user, 'POST', '/api/orders', { items: [{ productId, quantity }] });
      expect(res.statusCode).toBe(201);
      return res.json<{ id: number }>().id;
    };
    const bobs = await place(bob, 2);
    const alices = await place(alice, 1);
    expect((await aliceFeed.next()).data?.orderCreated).toEqual({
      id: alices,
      customerId: alice.id,
      items: [{ quantity: 1, product: { name: 'Kettle' } }],
    });
    await aliceFeed.silent();
    // Staff hold orders.view: every order, in commit order.
    expect((await staffFeed.next()).data?.orderCreated).toMatchObject({ id: bobs, customerId: bob.id });
    expect((await staffFeed.next()).data?.orderCreated).toMatchObject({ id: alices, customerId: alice.id });
    aliceFeed.close();
    staffFeed.close();
  });

  it('accepts the admin session cookie from this site only (no cross-site socket hijacking)', async () => {
    const { port } = t.app.getHttpServer().address() as { port: number };
    const site = `http://127.0.0.1:${port}`;
    const login = await t.inject({
      method: 'POST',
      url: '/admin/api/session',
      headers: { authorization: undefined, host: `127.0.0.1:${port}`, origin: site },
      payload: { email: staff.email, password: staff.password },
    });
    expect(login.statusCode).toBe(200);
    const header = login.headers['set-cookie'];
    const cookie = (Array.isArray(header) ? header : [header ?? ''])
      .find((c) => c.startsWith('nestor_session='))!
      .split(';')[0];
    const query = 'subscription { orderCreated { id customerId } }';
    const hijacker = wsClient(t, undefined, { cookie, origin: 'https://evil.example' });
    clients.push(hijacker);
    const foreign = new Feed(hijacker, query);
    expect((await foreign.next()).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const client = wsClient(t, undefined, { cookie, origin: site });
    clients.push(client);
    const same = new Feed(client, query);
    await settle();
    const res = await rest(t, alice, 'POST', '/api/orders', { items: [{ productId, quantity: 1 }] });
    expect(res.statusCode).toBe(201);
    expect((await same.next()).data?.orderCreated).toEqual({
      id: res.json<{ id: number }>().id,
      customerId: alice.id,
    });
    same.close();
  });

  it('refuses what REST refuses: 401 without a caller, 403 without the permission, a bad token', async () => {
    const anonymous = new Feed(open(), 'subscription { orderCreated { id } }');
    expect((await anonymous.next()).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const customer = new Feed(open(alice), 'subscription { userCreated { id } }');
    expect((await customer.next()).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const forged = new Feed(
      open({ ...alice, accessToken: `${alice.accessToken}x` }),
      'subscription { productCreated { id } }',
    );
    expect((await forged.next()).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('GraphQL live updates across processes (Redis pub/sub)', () => {
  const prefix = `live-${process.pid}-${randomBytes(3).toString('hex')}`;
  let a: TestApp;
  let b: TestApp;
  let client: Client | undefined;

  beforeAll(async () => {
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      JOBS_PREFIX: prefix,
      WORKERS: 'off',
      SECRET_KEY: randomBytes(32).toString('base64url'),
    };
    a = await createTestApp(AppModule.forRoot, { as: 'superuser', env });
    const url = (a.app.get(DataSource).options as { url: string }).url;
    b = await createTestApp(AppModule.forRoot, { env: { ...env, DATABASE_URL: url } });
    await b.app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await client?.dispose();
    await b?.close();
    await a?.close();
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
  });

  it('sends a write committed in one process to a subscriber of another', async () => {
    client = wsClient(b, a.superuser);
    const feed = new Feed(client, 'subscription { categoryCreated { id name } }');
    await settle();
    const res = await rest(a, a.superuser, 'POST', '/api/categories', {
      name: 'Remote',
      slug: `remote-${prefix}`,
    });
    expect(res.statusCode).toBe(201);
    expect((await feed.next()).data?.categoryCreated).toEqual({
      id: res.json<{ id: number }>().id,
      name: 'Remote',
    });
    feed.close();
  });
});
