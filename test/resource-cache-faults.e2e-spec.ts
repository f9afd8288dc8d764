import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { TestApp, createTestApp } from 'src/framework/testing';
import { FrozenProxy } from 'test/support/frozen-proxy';
import { freePort } from 'test/support/processes';
import { TEST_REDIS_URL, deleteRedisKeys, sharedRedisEnv, testPrefix } from 'test/support/redis';
import { RedisServer } from 'test/support/servers';
import { waitFor } from 'test/support/wait';

/**
 * A write commits, but its invalidation cannot reach Redis at that moment. Products are cached for 60 s
 * (`cache: { ttl: 60 }`): once Redis takes writes again, every process must answer with the write within
 * seconds, not a ttl later, and the writing process must never answer from before it.
 */

/** `nestor_resource_cache_hits_total{resource="products"}` as /metrics reports it. */
async function productHits(t: TestApp): Promise<number> {
  const line = (await t.inject('/metrics')).body
    .split('\n')
    .find((l) => l.startsWith('nestor_resource_cache_hits_total{resource="products"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function newProduct(t: TestApp, name: string): Promise<number> {
  const category = await t.factory(Category).create({ name: 'Faults', slug: `faults-${randomUUID()}` });
  const product = await t.factory(Product).create({
    name,
    sku: `FAULT-${randomUUID().slice(0, 8)}`,
    price: '5.00',
    stock: 10,
    status: ProductStatus.Active,
    category,
  });
  return product.id;
}

const nameIn = async (t: TestApp, id: number): Promise<string> => {
  const answer = await t.anonymous().inject(`/api/products/${id}`);
  expect(answer.statusCode).toBe(200);
  return answer.json<{ name: string }>().name;
};

const rename = async (t: TestApp, id: number, name: string): Promise<void> => {
  const patched = await t.inject({ method: 'PATCH', url: `/api/products/${id}`, payload: { name } });
  expect(patched.statusCode).toBe(200);
};

/** Well under the products' 60 s ttl: the answer must come from a resent invalidation, not from expiry. */
const WITHIN_MS = 10_000;

describe('Resource cache, a write while its process cannot reach Redis (two processes)', () => {
  const prefix = testPrefix('cache-split');
  const env = sharedRedisEnv(prefix);
  /** The writer, reaching Redis through `proxy`, so the test can cut it alone off Redis. */
  let a: TestApp;
  /** Another process on the same database and Redis, which never loses Redis. */
  let b: TestApp;
  let proxy: FrozenProxy;

  beforeAll(async () => {
    proxy = await FrozenProxy.start(Number(new URL(TEST_REDIS_URL).port));
    a = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      env: { ...env, REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
    });
    const url = (a.app.get(DataSource).options as { url: string }).url;
    b = await createTestApp(AppModule.forRoot, { env: { ...env, DATABASE_URL: url } });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await proxy?.close().catch(() => undefined);
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
  });

  it('every process answers with the write once Redis is back, and the writer never answers from before it', async () => {
    const id = await newProduct(a, 'Before the split');
    expect(await nameIn(b, id)).toBe('Before the split'); // cached in Redis
    const hits = await productHits(b);
    expect(await nameIn(b, id)).toBe('Before the split');
    expect(await productHits(b)).toBe(hits + 1);

    await proxy.cut(); // A alone loses Redis: a network split, a failover
    await rename(a, id, 'Written during the split');
    // A reads the database while Redis is out of reach; B, not told yet, still answers from its cache.
    expect(await nameIn(a, id)).toBe('Written during the split');
    expect(await nameIn(b, id)).toBe('Before the split');

    await proxy.restore();
    await waitFor(
      'the other process to answer with the write',
      async () => (await nameIn(b, id)) === 'Written during the split',
      WITHIN_MS,
    );
    expect(await nameIn(a, id)).toBe('Written during the split');
    // Once the invalidation has landed, A answers from the cache again.
    const before = await productHits(a);
    await waitFor(
      'the writer to use the cache again',
      async () => (await nameIn(a, id)) === 'Written during the split' && (await productHits(a)) > before,
      WITHIN_MS,
    );
  }, 60_000);
});

/**
 * Redis answers reads but refuses writes (a failover left the clients on a read-only replica; here
 * `min-replicas-to-write`): a cached read still hits, the stamp's replacement fails. A Redis server of the
 * test's own, so refusing writes touches no other test.
 */
describe('Resource cache, a write while Redis refuses writes', () => {
  let redis: RedisServer;
  let admin: Redis;
  let t: TestApp;

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    admin = new Redis(redis.url);
    t = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      env: {
        REDIS_URL: redis.url,
        JOBS_PREFIX: testPrefix('cache-refused'),
        WORKERS: 'inline',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it('the writer reads the database until the invalidation lands, then every reader sees the write', async () => {
    const id = await newProduct(t, 'Before refusal');
    expect(await nameIn(t, id)).toBe('Before refusal');
    const hits = await productHits(t);
    expect(await nameIn(t, id)).toBe('Before refusal'); // a hit: Redis holds the answer
    expect(await productHits(t)).toBe(hits + 1);

    await admin.config('SET', 'min-replicas-to-write', '1');
    try {
      await expect(admin.set('probe', '1')).rejects.toThrow(/NOREPLICAS/); // reads only, from here
      await rename(t, id, 'Written while refused');
      // Redis still holds the answer from before the write, under the stamp it could not replace.
      expect(await nameIn(t, id)).toBe('Written while refused');
      expect(await nameIn(t, id)).toBe('Written while refused');
    } finally {
      await admin.config('SET', 'min-replicas-to-write', '0');
    }
    // Redis takes writes again: the invalidation is sent again, and what Redis serves (to this process, as to
    // any other) is the write.
    const before = await productHits(t);
    await waitFor(
      'the cache to serve the write',
      async () => (await nameIn(t, id)) === 'Written while refused' && (await productHits(t)) > before,
      WITHIN_MS,
    );
  }, 60_000);
});
