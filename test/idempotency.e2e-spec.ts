import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_PROBLEMS } from 'src/framework/idempotency/idempotency-key';
import { idempotencyApp, idempotencyCases, problem } from 'test/support/idempotency-cases';

/**
 * Issue 25: Idempotency-Key on the database store (the default), through the shop's orders and the
 * generated product routes; the same cases run on Redis in idempotency-redis.e2e-spec.ts.
 */
describe('Idempotency-Key, database store', () => {
  const h = idempotencyApp({ IDEMPOTENCY_TTL: '2h' });

  idempotencyCases(h);

  const place = (key: string, productId: number) =>
    h.t.actingAs(h.customer).inject({
      method: 'POST',
      url: '/api/orders',
      payload: { items: [{ productId, quantity: 1 }] },
      headers: { 'idempotency-key': key },
    });

  it('keeps a key for IDEMPOTENCY_TTL, then forgets it', async () => {
    const { id: productId } = await h.product();
    const key = randomUUID();
    expect((await place(key, productId)).statusCode).toBe(201);
    const [row] = await h.sql<{ ttl: number; scope: string }>(
      `SELECT extract(epoch FROM "expiresAt" - "createdAt")::int AS ttl, scope FROM idempotency_key WHERE key = $1`,
      [key],
    );
    expect(row).toEqual({ ttl: 7200, scope: `user:${h.customer.id}` });
    await h.sql(`UPDATE idempotency_key SET "expiresAt" = now() - interval '1 second' WHERE key = $1`, [key]);
    const later = await place(key, productId);
    expect(later.statusCode).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    const [{ orders }] = await h.sql<{ orders: number }>(
      'SELECT count(DISTINCT "orderId")::int AS orders FROM order_item WHERE "productId" = $1',
      [productId],
    );
    expect(orders).toBe(2);
  });

  it("takes over a dead process's claim that committed nothing; a committed one is never run again", async () => {
    const { id: productId } = await h.product();
    const scope = `user:${h.customer.id}`;
    const claim = async (key: string, committed: boolean) => {
      // What a process killed mid-request leaves behind: a claim whose lease ran out, with the fingerprint
      // of this very request (taken from a real run with another key).
      const probe = randomUUID();
      await place(probe, productId);
      await h.sql(
        `INSERT INTO idempotency_key (scope, key, fingerprint, token, "lockedUntil", "committedAt", "expiresAt")
         SELECT scope, $2, fingerprint, gen_random_uuid(), now() - interval '1 second',
                CASE WHEN $3 THEN now() END, now() + interval '1 hour'
           FROM idempotency_key WHERE scope = $1 AND key = $4`,
        [scope, key, committed, probe],
      );
    };
    const dead = randomUUID();
    await claim(dead, false);
    const retried = await place(dead, productId);
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();

    const lost = randomUUID();
    await claim(lost, true);
    problem(await place(lost, productId), 409, IDEMPOTENCY_PROBLEMS.responseLost);
  });
});
