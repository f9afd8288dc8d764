import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';
import { idempotencyApp, idempotencyCases } from 'test/support/idempotency-cases';

const PREFIX = `idempotency-${process.pid}-${randomBytes(3).toString('hex')}`;

/** Issue 25: the same Idempotency-Key cases on the Redis store (the default when REDIS_URL is set). */
describe('Idempotency-Key, Redis store', () => {
  const h = idempotencyApp({
    REDIS_URL: TEST_REDIS_URL,
    JOBS_PREFIX: PREFIX,
    WORKERS: 'inline',
    IDEMPOTENCY_TTL: '30m',
  });
  afterAll(() => deleteRedisKeys(TEST_REDIS_URL, PREFIX));

  it('keeps the records in Redis, for IDEMPOTENCY_TTL, and none in the table', async () => {
    expect(h.t.config.idempotency.store).toBe('redis');
    const { id: productId } = await h.product();
    const key = randomUUID();
    const res = await h.t.actingAs(h.customer).inject({
      method: 'POST',
      url: '/api/orders',
      payload: { items: [{ productId, quantity: 1 }] },
      headers: { 'idempotency-key': key },
    });
    expect(res.statusCode).toBe(201);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys(`${PREFIX}:idempotency:*`);
      expect(keys.length).toBeGreaterThan(0);
      const ttls = await Promise.all(keys.map((k) => redis.pttl(k)));
      for (const ttl of ttls) {
        expect(ttl).toBeGreaterThan(29 * 60_000);
        expect(ttl).toBeLessThanOrEqual(30 * 60_000);
      }
    } finally {
      await redis.quit();
    }
    expect(await h.sql('SELECT 1 FROM idempotency_key')).toEqual([]);
  });

  idempotencyCases(h);
});
