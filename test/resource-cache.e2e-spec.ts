import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { RedisCacheStore } from 'src/framework/resource/cache-stores';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { FrozenProxy } from 'test/support/frozen-proxy';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';
import { waitFor } from 'test/support/wait';

/** `nestor_resource_cache_{hits,misses}_total{resource="…"}` as /metrics reports it. */
async function cacheCounts(t: TestApp, resource: string): Promise<{ hits: number; misses: number }> {
  const text = (await t.inject('/metrics')).body;
  const count = (kind: string): number => {
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`nestor_resource_cache_${kind}_total{resource="${resource}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  return { hits: count('hits'), misses: count('misses') };
}

/** What the cases need: an app, a second one on the same database (and Redis, when set), a customer. */
interface Harness {
  t: TestApp;
  other: TestApp;
  customer: TestUser;
  /** A superuser created once both apps run (so its token is good in both). */
  staff: TestUser;
  category: Category;
  product(fields?: Partial<Product>): Promise<Product>;
}

function cacheCases(kind: 'redis' | 'memory', env: Record<string, string>): void {
  const h = {} as Harness;
  beforeAll(async () => {
    h.t = await createTestApp(AppModule.forRoot, { as: 'superuser', env });
    // With Redis a second process shares the first one's database and cache: what one writes, the other
    // reads. The in-process LRU is for one process only, so there "the other" is the same app.
    const url = (h.t.app.get(DataSource).options as { url: string }).url;
    h.other =
      kind === 'redis' ? await createTestApp(AppModule.forRoot, { env: { ...env, DATABASE_URL: url } }) : h.t;
    h.customer = await h.t.createUser();
    h.staff = await h.t.createUser({ isSuperuser: true, isStaff: true });
    h.category = await h.t.factory(Category).create({ name: 'Cached', slug: `cached-${randomUUID()}` });
    let n = 0;
    h.product = (fields = {}) =>
      h.t.factory(Product).create({
        sku: `CACHE-${++n}-${randomUUID().slice(0, 8)}`,
        price: '5.00',
        stock: 10,
        status: ProductStatus.Active,
        category: h.category,
        ...fields,
      });
  });
  afterAll(async () => {
    if (h.other !== h.t) {
      await h.other?.close();
    }
    await h.t?.close();
  });

  it(`serves a hit after a miss, counted in /metrics (${kind})`, async () => {
    const { id } = await h.product();
    const before = await cacheCounts(h.t, 'products');
    const first = await h.t.anonymous().inject(`/api/products/${id}`);
    const second = await h.t.anonymous().inject(`/api/products/${id}`);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual(first.json());
    expect(second.headers.etag).toBe(first.headers.etag);
    const after = await cacheCounts(h.t, 'products');
    expect(after).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });
    // A list too: the same query twice, one miss then one hit.
    const url = `/api/products?filter[categoryId]=${h.category.id}&sort=name`;
    await h.t.anonymous().inject(url);
    expect((await h.t.anonymous().inject(url)).statusCode).toBe(200);
    expect(await cacheCounts(h.t, 'products')).toEqual({ hits: before.hits + 2, misses: before.misses + 2 });
  });

  it('answers 304 from the cache to If-None-Match, and Cache-Control follows the declaration', async () => {
    const { id } = await h.product();
    const first = await h.t.anonymous().inject(`/api/products/${id}`);
    expect(first.headers['cache-control']).toBe('public, no-cache'); // products: { ttl: 60 }
    const before = await cacheCounts(h.t, 'products');
    const again = await h.t
      .anonymous()
      .inject({ url: `/api/products/${id}`, headers: { 'if-none-match': first.headers.etag as string } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect((await cacheCounts(h.t, 'products')).hits).toBe(before.hits + 1);
    // categories: { ttl: 300, maxAge: 30 }; signed-in answers are never kept by browsers or proxies.
    expect((await h.t.anonymous().inject('/api/categories')).headers['cache-control']).toBe(
      'public, max-age=30',
    );
    expect((await h.t.actingAs(h.customer).inject('/api/categories')).headers['cache-control']).toBe(
      'no-store',
    );
    // An uncached resource says nothing.
    expect((await h.t.inject('/api/tags')).headers['cache-control']).toBe('no-store');
  });

  it('is invalidated by every kind of write, through either process', async () => {
    const { id } = await h.product();
    const get = () => h.other.anonymous().inject(`/api/products/${id}`);
    const read = async () => (await get()).json<Record<string, unknown>>();
    const list = async () =>
      (await h.other.anonymous().inject(`/api/products?filter[categoryId]=${h.category.id}&limit=100`)).json<{
        data: { id: number; name: string }[];
      }>().data;
    await read();
    await list();
    // update
    expect(
      (await h.t.inject({ method: 'PATCH', url: `/api/products/${id}`, payload: { name: 'Renamed' } }))
        .statusCode,
    ).toBe(200);
    expect(await read()).toMatchObject({ name: 'Renamed' });
    expect((await list()).find((p) => p.id === id)?.name).toBe('Renamed');
    // delete (soft) and restore
    expect((await h.t.inject({ method: 'DELETE', url: `/api/products/${id}` })).statusCode).toBe(204);
    expect((await get()).statusCode).toBe(404);
    expect((await list()).some((p) => p.id === id)).toBe(false);
    expect((await h.t.inject({ method: 'POST', url: `/api/products/${id}/restore` })).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    expect((await list()).some((p) => p.id === id)).toBe(true);
    // create
    const created = await h.t.inject({
      method: 'POST',
      url: '/api/products',
      payload: {
        name: 'New',
        sku: `NEW-${randomUUID().slice(0, 8).toUpperCase()}`,
        price: '1.00',
        categoryId: h.category.id,
      },
    });
    expect({ status: created.statusCode, body: created.body }).toMatchObject({ status: 201 });
    expect((await list()).some((p) => p.id === created.json<{ id: number }>().id)).toBe(true);
    // an admin action (raw SQL inside the framework's transaction)
    const action = await h.t.inject({
      method: 'POST',
      url: '/admin/api/actions/products/archive',
      payload: { ids: [id] },
    });
    expect(action.statusCode).toBeLessThan(300);
    expect((await read()).status).toBe(ProductStatus.Archived);
    // a write by another resource's service: an order takes stock (TypeORM's decrement, seen by the subscriber)
    await h.t.inject({
      method: 'PATCH',
      url: `/api/products/${id}`,
      payload: { status: ProductStatus.Active },
    });
    const stock = (await read()).stock as number;
    const order = await h.t
      .actingAs(h.customer)
      .inject({ method: 'POST', url: '/api/orders', payload: { items: [{ productId: id, quantity: 2 }] } });
    expect(order.statusCode).toBe(201);
    expect((await read()).stock).toBe(stock - 2);
    // ... and a hook's raw SQL: cancelling the order restocks, `touch`ed by the hook
    const cancel = await h.t.inject({
      method: 'PATCH',
      url: `/api/orders/${order.json<{ id: number }>().id}`,
      payload: { status: 'cancelled' },
    });
    expect(cancel.statusCode).toBe(200);
    expect((await read()).stock).toBe(stock);
    // a related resource: renaming the category shows in products that include it
    const withCategory = `/api/products/${id}?include=category`;
    await h.other.anonymous().inject(withCategory);
    await h.t.inject({
      method: 'PATCH',
      url: `/api/categories/${h.category.id}`,
      payload: { name: 'Renamed cat' },
    });
    expect(
      (await h.other.anonymous().inject(withCategory)).json<{ category: { name: string } }>().category.name,
    ).toBe('Renamed cat');
    // a factory (TypeORM repository save, outside any request)
    const made = await h.product();
    expect((await list()).some((p) => p.id === made.id)).toBe(true);
    // a save that changes only a many-to-many relation: TypeORM writes the junction's rows and nothing else
    const tag = await h.t.app
      .get(DataSource)
      .getRepository(Tag)
      .save({ name: `cached-${randomUUID()}` });
    expect((await read()).tagIds).toEqual([]);
    await h.t.app
      .get(DataSource)
      .getRepository(Product)
      .save({ id, tags: [tag] });
    expect((await read()).tagIds).toEqual([tag.id]);
  });

  it('never answers stale in the other process: write through A, read through B, 0 stale of 50', async () => {
    const { id } = await h.product();
    let stale = 0;
    for (let i = 0; i < 50; i++) {
      const written = await h.t.inject({
        method: 'PATCH',
        url: `/api/products/${id}`,
        payload: { stock: i },
      });
      expect(written.statusCode).toBe(200);
      const [row, page] = await Promise.all([
        h.other.anonymous().inject(`/api/products/${id}`),
        h.other.anonymous().inject(`/api/products?filter[categoryId]=${h.category.id}&limit=100`),
      ]);
      const listed = page.json<{ data: { id: number; stock: number }[] }>().data.find((p) => p.id === id);
      if (
        row.json<{ stock: number }>().stock !== i ||
        listed?.stock !== i ||
        row.headers.etag !== written.headers.etag
      ) {
        stale++;
      }
    }
    expect(stale).toBe(0);
    expect((await cacheCounts(h.other, 'products')).misses).toBeGreaterThanOrEqual(100);
  });

  it("never serves one customer's owned answers to another, nor staff answers to customers", async () => {
    const a = await h.t.createUser();
    const b = await h.t.createUser();
    const { id: productId } = await h.product({ stock: 100 });
    const place = (user: TestUser) =>
      h.t
        .actingAs(user)
        .inject({ method: 'POST', url: '/api/orders', payload: { items: [{ productId, quantity: 1 }] } });
    const orderA = (await place(a)).json<{ id: number }>().id;
    const orderB = (await place(b)).json<{ id: number }>().id;
    // Orders are owned; the products of an order are included: the same URL for A, B, staff.
    const listOf = async (user: TestUser) =>
      (await h.other.actingAs(user).inject('/api/orders?include=items'))
        .json<{ data: { id: number }[] }>()
        .data.map((o) => o.id);
    expect(await listOf(a)).toEqual([orderA]);
    expect(await listOf(b)).toEqual([orderB]);
    expect(await listOf(a)).toEqual([orderA]);
    expect((await h.other.actingAs(b).inject(`/api/orders/${orderA}`)).statusCode).toBe(404);
    expect((await h.other.actingAs(a).inject(`/api/orders/${orderA}`)).statusCode).toBe(200);
    expect((await h.other.actingAs(b).inject(`/api/orders/${orderA}`)).statusCode).toBe(404);
    // Staff see every order; a customer afterwards still only their own.
    expect(
      (await h.other.actingAs(h.staff).inject('/api/orders?include=items')).json<{ data: unknown[] }>().data
        .length,
    ).toBeGreaterThanOrEqual(2);
    expect(await listOf(b)).toEqual([orderB]);
  });
}

describe('Resource cache, Redis (two processes sharing it)', () => {
  const prefix = `cache-${process.pid}-${randomBytes(3).toString('hex')}`;
  afterAll(() => deleteRedisKeys(TEST_REDIS_URL, prefix));
  // One SECRET_KEY, so a token from one process is good in the other, as behind a load balancer.
  cacheCases('redis', {
    REDIS_URL: TEST_REDIS_URL,
    JOBS_PREFIX: prefix,
    WORKERS: 'inline',
    SECRET_KEY: randomBytes(32).toString('base64url'),
  });

  it('keeps answers for the declared ttl', async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys(`${prefix}:cache:a:categories:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const ttl = await redis.ttl(key);
        expect(ttl).toBeGreaterThan(250);
        expect(ttl).toBeLessThanOrEqual(300); // categories: { ttl: 300 }
      }
    } finally {
      await redis.quit();
    }
  });
});

/**
 * RESOURCE_CACHE=off in one process (a rolling change of the setting, a worker started with it off): it
 * reads the database, and its writes still invalidate what processes sharing Redis with the cache on hold.
 */
describe('Resource cache, Redis shared with a process that has it off', () => {
  const prefix = `cache-off-${process.pid}-${randomBytes(3).toString('hex')}`;
  const env = {
    REDIS_URL: TEST_REDIS_URL,
    JOBS_PREFIX: prefix,
    SECRET_KEY: randomBytes(32).toString('base64url'),
  };
  let on: TestApp;
  let off: TestApp;
  beforeAll(async () => {
    on = await createTestApp(AppModule.forRoot, { env });
    const url = (on.app.get(DataSource).options as { url: string }).url;
    off = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      env: { ...env, DATABASE_URL: url, RESOURCE_CACHE: 'off' },
    });
  });
  afterAll(async () => {
    await off?.close();
    await on?.close();
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
  });

  it("invalidates the other process's answers on every kind of write, and reads the database itself", async () => {
    const category = await on.factory(Category).create({ name: 'Off', slug: `off-${randomUUID()}` });
    const product = await on.factory(Product).create({
      sku: `OFF-${randomUUID().slice(0, 8)}`,
      price: '5.00',
      stock: 10,
      status: ProductStatus.Active,
      category,
    });
    const nameIn = async (app: TestApp) =>
      (await app.anonymous().inject(`/api/products/${product.id}`)).json<{ name: string }>().name;
    const before = await cacheCounts(on, 'products');
    await nameIn(on);
    await nameIn(on);
    expect(await cacheCounts(on, 'products')).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });

    // A TypeORM entity write in the process with the cache off (a repository save outside any request).
    const products = off.app.get(DataSource).getRepository(Product);
    await products.save({ ...(await products.findOneByOrFail({ id: product.id })), name: 'Saved while off' });
    expect(await nameIn(on)).toBe('Saved while off');

    // A write through its generated API.
    const patched = await off.inject({
      method: 'PATCH',
      url: `/api/products/${product.id}`,
      payload: { name: 'Patched while off' },
    });
    expect(patched.statusCode).toBe(200);
    expect(await nameIn(on)).toBe('Patched while off');

    // Its own reads never come from the cache.
    await nameIn(off);
    await nameIn(off);
    expect(await cacheCounts(off, 'products')).toEqual({ hits: 0, misses: 0 });
  });
});

describe('Resource cache, in-process LRU (no REDIS_URL)', () => {
  cacheCases('memory', {});
});

describe('Resource cache store, Redis out of reach', () => {
  const prefix = `cache-reach-${process.pid}-${randomBytes(3).toString('hex')}`;
  const stamp = `${prefix}:v:products`;
  afterAll(() => deleteRedisKeys(TEST_REDIS_URL, prefix));

  /** How long `n` invalidations take, each failing as Redis is out of reach. */
  async function failingBumps(store: RedisCacheStore, n: number): Promise<number> {
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      await expect(store.bump([stamp])).rejects.toThrow(/Redis unreachable/);
    }
    return performance.now() - started;
  }

  // An invalidation runs at COMMIT: waiting on Redis there holds the database connection (on the embedded
  // default, the only one) for seconds per write.
  it('fails at once while Redis is hung or down, and recovers once it answers again', async () => {
    const proxy = await FrozenProxy.start(6379);
    const store = new RedisCacheStore(`redis://127.0.0.1:${proxy.port}`);
    try {
      await store.bump([stamp]);
      const { versions } = await store.lookup([stamp], `${prefix}:a:x`);
      expect(versions).toHaveLength(12); // one fresh stamp

      proxy.freeze(); // hung: the first command times out (2 s), the next ones fail at once for a second
      await expect(store.bump([stamp])).rejects.toThrow(/timed out/);
      expect(await failingBumps(store, 20)).toBeLessThan(200);
      proxy.thaw();
      await waitFor('the store to use Redis again after the hang', () =>
        store.bump([stamp]).then(
          () => true,
          () => false,
        ),
      );

      await proxy.close(); // down: once the reconnect is refused, every command fails at once
      await waitFor('the store to see Redis down', () =>
        store.bump([stamp]).then(
          () => false,
          (error: Error) => error.message.startsWith('Redis unreachable'),
        ),
      );
      expect(await failingBumps(store, 20)).toBeLessThan(200);
    } finally {
      await store.close();
    }
  }, 30_000);
});
