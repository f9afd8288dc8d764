import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect } from 'node:net';
import { OrderService } from 'src/app/orders/order.service';
import { IDEMPOTENCY_PROBLEMS } from 'src/framework/idempotency/idempotency-key';
import { idempotencyApp, idempotencyCases, problem } from 'test/support/idempotency-cases';
import { launchChromium } from 'test/support/chromium.mjs';
import { sleep } from 'test/support/wait';

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

  describe('over a real socket', () => {
    let base: string;
    beforeAll(async () => {
      await h.t.app.listen(0, '127.0.0.1');
      base = `http://127.0.0.1:${(h.t.app.getHttpServer().address() as AddressInfo).port}`;
    });

    /** One attempt of the order, as a client sends it with its key. */
    const post = (key: string, body: string) =>
      fetch(`${base}/api/orders`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${h.customer.accessToken}`,
          'content-type': 'application/json',
          'idempotency-key': `"${key}"`,
        },
        body,
      });

    /** What a careful client does: retry with the same key, waiting Retry-After on a 409 in progress. */
    async function sendUntilAnswered(key: string, body: string): Promise<Response> {
      for (;;) {
        const res = await post(key, body);
        if (res.status !== 409 || res.headers.get('retry-after') === null) {
          return res;
        }
        await sleep(Number(res.headers.get('retry-after')) * 1000);
      }
    }

    it('a client whose connection is cut before the answer retries: one order, one stock decrement, one mail', async () => {
      const { id: productId } = await h.product({ stock: 10 });
      const orders = h.t.app.get(OrderService);
      const place = orders.place.bind(orders);
      let running!: () => void;
      const started = new Promise<void>((resolve) => (running = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // The first request is held inside its handler until the client has hung up.
      jest.spyOn(orders, 'place').mockImplementationOnce(async (...args) => {
        running();
        await gate;
        return place(...args);
      });
      const key = randomUUID();
      const body = JSON.stringify({ items: [{ productId, quantity: 2 }] });

      const socket = connect(Number(new URL(base).port), '127.0.0.1');
      await once(socket, 'connect');
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      socket.write(
        [
          'POST /api/orders HTTP/1.1',
          'Host: 127.0.0.1',
          `Authorization: Bearer ${h.customer.accessToken}`,
          'Content-Type: application/json',
          `Idempotency-Key: "${key}"`,
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          body,
        ].join('\r\n'),
      );
      await started;
      socket.destroy(); // the network drops: the client will never hear this answer

      // Retried at once, while the first still runs: 409 with Retry-After, and nothing runs twice.
      const early = await post(key, body);
      expect(early.status).toBe(409);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(((await early.json()) as { type: string }).type).toBe(IDEMPOTENCY_PROBLEMS.inProgress);

      release();
      const answer = await sendUntilAnswered(key, body);
      expect(answer.status).toBe(201);
      expect(answer.headers.get('idempotent-replayed')).toBe('true');
      const order = (await answer.json()) as { id: number };
      expect(answer.headers.get('location')).toBe(`/api/orders/${order.id}`);
      expect(received).toBe('');

      const orderIds = await h.sql<{ orderId: number }>(
        'SELECT DISTINCT "orderId" FROM order_item WHERE "productId" = $1',
        [productId],
      );
      expect(orderIds).toEqual([{ orderId: order.id }]);
      const [{ stock }] = await h.sql<{ stock: number }>('SELECT stock FROM product WHERE id = $1', [
        productId,
      ]);
      expect(stock).toBe(8);
      const mails = await h.t.mail.outbox({ subject: `Your order #${order.id}` });
      expect(mails).toHaveLength(1);
    });

    it('documents the header, with its bounds, on every operation that accepts it, and Swagger UI shows it', async () => {
      const document = (await (await fetch(`${base}/docs-json`)).json()) as {
        paths: Record<
          string,
          Record<
            string,
            {
              operationId: string;
              parameters?: { name: string; in: string; schema: { maxLength: number; minLength: number } }[];
              responses: Record<string, { description: string; headers?: Record<string, unknown> }>;
            }
          >
        >;
      };
      const accepting: string[] = [];
      for (const item of Object.values(document.paths)) {
        for (const operation of Object.values(item)) {
          const parameter = operation.parameters?.find((p) => p.name === 'Idempotency-Key');
          if (parameter) {
            accepting.push(operation.operationId);
            expect(parameter).toMatchObject({ in: 'header', schema: { minLength: 1, maxLength: 512 } });
            expect(operation.responses['409']).toBeDefined();
            expect(operation.responses['422']).toBeDefined();
            if (operation.operationId !== 'orders.place') {
              // Generated operations say what the statuses mean with a key; orders.place's header does.
              expect(operation.responses['409'].description).toContain('Idempotency-Key');
              expect(operation.responses['422'].description).toContain('Idempotency-Key');
            }
          }
        }
      }
      expect(accepting).toEqual(
        expect.arrayContaining([
          'orders.place',
          'orders.update',
          'orders.delete',
          'products.create',
          'products.update',
          'products.delete',
          'products.restore',
        ]),
      );
      expect(accepting.some((id) => /\.(list|get)$/.test(id))).toBe(false);
      expect(document.paths['/api/products'].post.responses['201'].headers).toHaveProperty(
        'Idempotent-Replayed',
      );

      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        // Generous waits: Swagger UI renders a large document, slowly on a loaded CI machine.
        await page.goto(`${base}/docs`, { timeout: 60_000 });
        await page
          .getByText('Place an order: checks and decrements stock atomically')
          .click({ timeout: 60_000 });
        await page.getByText('Idempotency-Key', { exact: true }).first().waitFor({ timeout: 60_000 });
      } finally {
        await browser.close();
      }
    }, 150_000);
  });
});
