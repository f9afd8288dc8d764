import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import type { Problem } from 'src/framework/http/problem';
import { TestApp, createTestApp } from 'src/framework/testing';

/**
 * OWASP API4 (Unrestricted Resource Consumption): the API's request budget, per client address for
 * anonymous callers and per user for signed-in ones, across all routes. The budgets are small here so
 * the tests are quick; the defaults are 300 and 1200 a minute (off under NODE_ENV=test unless set).
 */
const ANON = 12;
const USER = 20;

describe('API request budget (RATE_LIMIT_ANON / RATE_LIMIT_USER)', () => {
  let t: TestApp;
  let ipCounter = 0;
  const nextIp = (): string => `203.0.113.${++ipCounter}`;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      env: { RATE_LIMIT_ANON: `${ANON}/minute`, RATE_LIMIT_USER: `${USER}/minute` },
    });
  });
  afterAll(() => t.close());

  const refused = (res: LightMyRequestResponse): Problem => {
    expect(res.statusCode).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    return res.json<Problem>();
  };

  it('anonymous callers get their budget per address across routes, then 429 + Retry-After, and nothing is written', async () => {
    const ip = nextIp();
    const urls = ['/api/products', '/api/categories', '/api/tags'];
    for (let i = 0; i < ANON; i++) {
      const res = await t.anonymous().inject({ url: urls[i % urls.length], remoteAddress: ip });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe(String(ANON));
      expect(res.headers['x-ratelimit-remaining']).toBe(String(ANON - i - 1));
    }
    expect(refused(await t.anonymous().inject({ url: '/api/products', remoteAddress: ip })).detail).toMatch(
      /Too many requests/,
    );
    const email = 'over-budget@example.com';
    refused(
      await t.anonymous().inject({
        method: 'POST',
        url: '/api/auth/register',
        remoteAddress: ip,
        payload: { email, password: 'a long enough password' },
      }),
    );
    const users = await t.app
      .get(DataSource)
      .query<unknown[]>('SELECT 1 FROM "user" WHERE email = $1', [email]);
    expect(users).toHaveLength(0);
    // Another address has its own budget.
    expect((await t.anonymous().inject({ url: '/api/products', remoteAddress: nextIp() })).statusCode).toBe(
      200,
    );
  });

  it('signed-in callers are counted per user, whatever their address; other users are not affected', async () => {
    const alice = await t.createUser();
    const bob = await t.createUser();
    for (let i = 0; i < USER; i++) {
      // A new address every time: the user is what is counted.
      const res = await t.actingAs(alice).inject({ url: '/api/auth/me', remoteAddress: nextIp() });
      expect(res.statusCode).toBe(200);
    }
    refused(await t.actingAs(alice).inject({ url: '/api/products', remoteAddress: nextIp() }));
    expect((await t.actingAs(bob).inject('/api/auth/me')).statusCode).toBe(200);
  });

  it('an API key counts against its owner', async () => {
    const carol = await t.createUser({ permissions: ['products.view'] });
    const key = await t.createApiKey(carol, ['products.view']);
    for (let i = 0; i < USER; i++) {
      expect((await t.actingAs(carol).inject(i % 2 ? '/api/products' : '/api/auth/me')).statusCode).toBe(200);
    }
    refused(await t.withApiKey(key).inject('/api/products'));
  });

  it('health probes and metrics scrapes are never limited', async () => {
    const ip = nextIp();
    for (let i = 0; i < ANON + 5; i++) {
      expect((await t.anonymous().inject({ url: '/health/live', remoteAddress: ip })).statusCode).toBe(200);
      expect((await t.anonymous().inject({ url: '/metrics', remoteAddress: ip })).statusCode).toBe(200);
    }
    expect((await t.anonymous().inject({ url: '/api/products', remoteAddress: ip })).statusCode).toBe(200);
  });
});
