import 'src/app/catalog/catalog.factories';
import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { LiveUpdates } from 'src/framework/graphql/live-updates';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { ResourceEvents } from 'src/framework/resource/resource-events';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';

/**
 * Live updates (issue 22 item 4) through graphql-ws, the third-party client, over a real WebSocket:
 * per-resource created/updated/deleted subscriptions, after COMMIT only, with REST's permissions and
 * ownership, and across processes through Redis pub/sub, published only while some process subscribes
 * (issue 23).
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

/** Resolves once `check` holds (polled every 10 ms), or fails after `ms`. */
async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error('not within the time');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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
  const created = `nestor/${prefix}/categories/created`;
  let a: TestApp;
  let b: TestApp;
  let client: Client | undefined;
  /** Every live update Redis carries for this prefix (a subscriber outside the apps: no presence). */
  let tap: Redis;
  const published: string[] = [];
  const feeds: Feed[] = [];
  const live = (app: TestApp) => app.app.get(LiveUpdates);
  /** Past its boot, a process counts a topic nobody subscribes to as not live. */
  const booted = (updates: LiveUpdates) =>
    until(() => !updates.presence.listened(`nestor/${prefix}/none/created`));
  const category = async (name: string) => {
    const res = await rest(a, a.superuser, 'POST', '/api/categories', {
      name,
      slug: `${name.toLowerCase()}-${prefix}`,
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: number }>().id;
  };
  /** Subscribes in B; resolves with the feed once B has confirmed the subscription (Mercurius's `on`). */
  const subscribed = async (query: string) => {
    const emitter = live(b).emitter;
    const on = emitter.on.bind(emitter);
    const confirmed = new Promise<void>((resolve) =>
      jest.spyOn(emitter, 'on').mockImplementationOnce((topic, listener, done) =>
        on(topic, listener, () => {
          done?.();
          resolve();
        }),
      ),
    );
    const feed = new Feed(client!, query);
    feeds.push(feed);
    await confirmed;
    return feed;
  };

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
    client = wsClient(b, a.superuser);
    tap = new Redis(TEST_REDIS_URL);
    tap.on('pmessage', (_pattern, channel) => {
      if (!channel.endsWith('/_presence')) {
        published.push(channel);
      }
    });
    await tap.psubscribe(`nestor/${prefix}/*`);
    await Promise.all([booted(live(a)), booted(live(b))]);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    feeds.splice(0).forEach((feed) => feed.close());
  });

  afterAll(async () => {
    await client?.dispose();
    tap?.disconnect();
    await b?.close();
    await a?.close();
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
  });

  it('publishes nothing while no process has a subscriber', async () => {
    await category('Unheard');
    await settle();
    expect(published).toEqual([]);
  });

  it('sends a write committed in one process to a subscriber of another, from the first write on', async () => {
    const feed = await subscribed('subscription { categoryCreated { id name } }');
    const before = published.length;
    // At once: by the time B confirms the subscription, Redis has written B's announcement to A's socket.
    const id = await category('Remote');
    expect((await feed.next()).data?.categoryCreated).toEqual({ id, name: 'Remote' });
    expect(published.slice(before)).toEqual([created]);
  });

  it('publishes to the subscribers of others from a process that booted after them', async () => {
    const feed = await subscribed('subscription { categoryCreated { id name } }');
    // Process C: its own LiveUpdates, on its own Redis connections, with the same prefix.
    const events = new ResourceEvents();
    const c = new LiveUpdates(a.app.get(NestorConfig), events);
    try {
      await booted(c);
      expect(c.presence.listened(created)).toBe(true);
      const definition = a.app.get(ResourceRegistry).byPath('categories');
      events.committed(definition, 'create', 1e9, { id: 1e9, name: 'From C' });
      expect((await feed.next()).data?.categoryCreated).toEqual({ id: 1e9, name: 'From C' });
    } finally {
      await c.onModuleDestroy();
    }
  });

  it('stops publishing once the last subscriber has left', async () => {
    const feed = await subscribed('subscription { categoryCreated { id } }');
    await category('Heard');
    await feed.next();
    const before = published.length;
    feed.close();
    await until(() => !live(a).presence.listened(created));
    await category('Silent');
    await settle();
    expect(published.length).toBe(before);
  });
});
