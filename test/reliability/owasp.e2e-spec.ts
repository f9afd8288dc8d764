import { createHmac } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { JWT_AUDIENCE, JWT_ISSUER } from 'src/framework/auth/token.service';
import {
  ACCOUNT_THROTTLES,
  LOGIN_THROTTLE,
  TOO_MANY_ATTEMPTS,
} from 'src/framework/auth/login-throttle.service';
import type { Problem } from 'src/framework/http/problem';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';

/**
 * OWASP API Security Top 10 (2023), one `describe` per item, each with at least one test that fails when
 * the protection goes away. Deeper coverage lives next to each feature and is named in the comments.
 * Client addresses: inject comes from 127.0.0.1 unless `remoteAddress` says otherwise; the throttling tests
 * use addresses of their own so they never share a budget.
 */

const PUBLIC_URL = 'https://shop.example';

/** Django's poisoned Host headers (tests/requests/tests.py), plus a few of our own. */
const POISONED_HOSTS = [
  'example.com@evil.tld',
  'example.com:dr.frankenstein@evil.tld',
  'example.com:dr.frankenstein@evil.tld:80',
  'example.com:80/badpath',
  'example.com: recovermypassword.com',
  'evil.tld',
  'evil.tld:443',
  '[::1]:80@evil.tld',
  'evil.tld\tshop.example',
  '',
  `${'a'.repeat(4000)}.evil.tld`,
];

function problem(res: LightMyRequestResponse, status: number): Problem {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.json<Problem>();
}

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

let ipCounter = 0;
/** A client address no other test uses. */
const nextIp = (): string => `198.51.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

describe('OWASP API Security Top 10 (2023)', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let alice: TestUser;
  let bob: TestUser;
  let productId: number;

  const count = async (text: string, parameters: unknown[] = []): Promise<number> =>
    Number((await dataSource.query<{ n: string }[]>(text, parameters))[0].n);
  const post = (
    url: string,
    payload: unknown,
    remoteAddress = nextIp(),
    headers: Record<string, string> = {},
  ) => t.anonymous().inject({ method: 'POST', url, payload: payload as object, remoteAddress, headers });
  /** Logs a user in to the admin's cookie session from a page on `host`. */
  const adminLogin = (user: { email: string; password: string }, host: string) =>
    post('/admin/api/session', { email: user.email, password: user.password }, nextIp(), {
      origin: `http://${host}`,
      host,
    });

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      env: { PUBLIC_URL, METRICS: 'protected' },
    });
    dataSource = t.app.get(DataSource);
    alice = await t.createUser();
    bob = await t.createUser();
    const category = await t.factory(Category).create({ name: 'OWASP', slug: 'owasp' });
    productId = (
      await t
        .factory(Product)
        .create({ sku: 'OWASP-1', price: '5.00', stock: 50, status: ProductStatus.Active, category })
    ).id;
  });
  afterAll(() => t.close());

  describe('API1 Broken Object Level Authorization', () => {
    // Deeper: test/auth-permissions.e2e-spec.ts "ownership of orders"; test/auth-api-keys.e2e-spec.ts (keys).
    it("Bob gets 404 (never 403 or the data) for Alice's order on get, patch and delete; lists never show it", async () => {
      const placed = await t.actingAs(alice).inject({
        method: 'POST',
        url: '/api/orders',
        payload: { items: [{ productId, quantity: 1 }] },
      });
      expect(placed.statusCode).toBe(201);
      const id = placed.json<{ id: number }>().id;
      const asBob = t.actingAs(bob);

      problem(await asBob.inject(`/api/orders/${id}`), 404);
      problem(
        await asBob.inject({ method: 'PATCH', url: `/api/orders/${id}`, payload: { status: 'cancelled' } }),
        404,
      );
      problem(await asBob.inject({ method: 'DELETE', url: `/api/orders/${id}` }), 404);
      const listed = await asBob.inject(`/api/orders?filter[customerId]=${alice.id}`);
      expect(listed.json<{ data: unknown[]; meta: { total: number } }>()).toMatchObject({
        data: [],
        meta: { total: 0 },
      });
      const [row] = await dataSource.query<{ status: string }[]>('SELECT status FROM "order" WHERE id = $1', [
        id,
      ]);
      expect(row.status).toBe('pending');
      expect((await t.actingAs(alice).inject(`/api/orders/${id}`)).statusCode).toBe(200);
    });

    it("Bob cannot revoke Alice's API key (404), and it keeps working", async () => {
      const key = await t.createApiKey(alice, []);
      const [{ id }] = await dataSource.query<{ id: string }[]>(
        'SELECT id FROM api_key WHERE "userId" = $1 ORDER BY id DESC LIMIT 1',
        [alice.id],
      );
      problem(await t.actingAs(bob).inject({ method: 'DELETE', url: `/api/auth/api-keys/${id}` }), 404);
      expect((await t.withApiKey(key).inject('/api/auth/me')).statusCode).toBe(200);
    });
  });

  describe('API2 Broken Authentication', () => {
    // Deeper: test/auth-jwt.e2e-spec.ts (algorithms, claims, rotation), test/auth-2fa-throttle.e2e-spec.ts.
    it('refuses unsigned, wrongly signed and garbage bearer tokens with 401 problem+json', async () => {
      const claims = {
        sub: String(alice.id),
        iss: JWT_ISSUER,
        aud: JWT_AUDIENCE,
        exp: Math.floor(Date.now() / 1000) + 600,
      };
      const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
      const wrongKey = `${input}.${createHmac('sha256', 'not the secret').update(input).digest('base64url')}`;
      for (const token of [unsigned, wrongKey, 'garbage', `${alice.accessToken}x`]) {
        const res = await t
          .anonymous()
          .inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${token}` } });
        expect(problem(res, 401).type).toBe('urn:nestor:problem:unauthorized');
      }
    });

    it(`locks out password guessing: after ${LOGIN_THROTTLE.limit} failures even the right password gets 429 + Retry-After`, async () => {
      const victim = await t.createUser();
      const ip = nextIp();
      for (let i = 0; i < LOGIN_THROTTLE.limit; i++) {
        problem(
          await post('/api/auth/login', { email: victim.email, password: `guess ${i} guess` }, ip),
          401,
        );
      }
      const locked = await post(
        '/api/auth/login',
        { email: victim.email, password: victim.password },
        nextIp(),
      );
      expect(problem(locked, 429).type).toBe(TOO_MANY_ATTEMPTS);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('token responses are never cacheable (Cache-Control: no-store)', async () => {
      const user = await t.createUser();
      const login = await post('/api/auth/login', { email: user.email, password: user.password });
      expect(login.statusCode).toBe(200);
      expect(login.headers['cache-control']).toBe('no-store');
      const refreshed = await post('/api/auth/refresh', {
        refreshToken: login.json<{ refreshToken: string }>().refreshToken,
      });
      expect(refreshed.statusCode).toBe(200);
      expect(refreshed.headers['cache-control']).toBe('no-store');
      const key = await t
        .actingAs(user)
        .inject({ method: 'POST', url: '/api/auth/api-keys', payload: { name: 'ci', permissions: [] } });
      expect(key.statusCode).toBe(201);
      expect(key.headers['cache-control']).toBe('no-store');
      const setup = await t.actingAs(user).inject({ method: 'POST', url: '/api/auth/2fa/setup' });
      expect(setup.statusCode).toBe(200);
      expect(setup.headers['cache-control']).toBe('no-store');
      // The admin's cookie session answers with its CSRF token.
      const session = await adminLogin(await t.createUser({ isStaff: true }), 'localhost');
      expect(session.statusCode).toBe(200);
      expect(session.headers['cache-control']).toBe('no-store');
      const current = await t.anonymous().inject({
        url: '/admin/api/session',
        headers: { cookie: String(session.headers['set-cookie']).split(';')[0] },
      });
      expect(current.statusCode).toBe(200);
      expect(current.headers['cache-control']).toBe('no-store');
    });
  });

  describe('API3 Broken Object Property Level Authorization', () => {
    // Deeper: test/auth-permissions.e2e-spec.ts (users' isStaff/isSuperuser), test/auth-account.e2e-spec.ts.
    it('mass assignment: register with isSuperuser/isStaff → 422 and no account', async () => {
      const email = 'mallory@example.com';
      const res = await post('/api/auth/register', {
        email,
        password: 'mallory password 1',
        isSuperuser: true,
        isStaff: true,
      });
      const pointers = problem(res, 422).errors?.map((e) => e.pointer);
      expect(pointers).toEqual(expect.arrayContaining(['/isSuperuser', '/isStaff']));
      expect(await count('SELECT count(*) AS n FROM "user" WHERE email = $1', [email])).toBe(0);
    });

    it("mass assignment: an order's owner and total cannot be written through PATCH (422, unchanged)", async () => {
      const placed = await t.actingAs(alice).inject({
        method: 'POST',
        url: '/api/orders',
        payload: { items: [{ productId, quantity: 2 }] },
      });
      const id = placed.json<{ id: number }>().id;
      const res = await t.actingAs(alice).inject({
        method: 'PATCH',
        url: `/api/orders/${id}`,
        payload: { total: '0.01', customerId: bob.id },
      });
      const pointers = problem(res, 422).errors?.map((e) => e.pointer);
      expect(pointers).toEqual(expect.arrayContaining(['/total', '/customerId']));
      const [row] = await dataSource.query<{ total: string; customerId: number }[]>(
        'SELECT total, "customerId" FROM "order" WHERE id = $1',
        [id],
      );
      expect(row).toEqual({ total: '10.00', customerId: alice.id });
    });

    it('never exposes password hashes or 2FA secrets, even to a superuser', async () => {
      const one = await t.inject(`/api/users/${alice.id}`);
      const list = await t.inject('/api/users?limit=100');
      const me = await t.actingAs(alice).inject('/api/auth/me');
      for (const res of [one, list, me]) {
        expect(res.statusCode).toBe(200);
        expect(res.body).not.toMatch(/passwordHash|totpSecret|totpRecoveryCodes|\$argon2/);
      }
      problem(await t.inject(`/api/users?fields=passwordHash`), 400);
      problem(await t.inject(`/api/users?filter[passwordHash][startswith]=$argon2`), 400);
    });
  });

  describe('API4 Unrestricted Resource Consumption', () => {
    // The request budget per address and per user: test/reliability/rate-limit.e2e-spec.ts.
    // Deeper: test/resources.e2e-spec.ts (limit clamp, bad queries), test/http-contract.e2e-spec.ts (413).
    it('clamps page size to 100 and reports the effective limit', async () => {
      const res = await t.anonymous().inject('/api/products?limit=1000000');
      expect(res.statusCode).toBe(200);
      expect(res.json<{ meta: { limit: number } }>().meta.limit).toBe(100);
    });

    it('refuses a body over BODY_LIMIT with 413 before parsing it', async () => {
      const res = await t.inject({
        method: 'POST',
        url: '/api/categories',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ name: 'x'.repeat(1_100_000), slug: 'huge' }),
      });
      problem(res, 413);
      expect(await count(`SELECT count(*) AS n FROM category WHERE slug = 'huge'`)).toBe(0);
    });

    it('bounds string lengths and array sizes with 422 pointing at the field', async () => {
      const longName = await t.inject({
        method: 'PATCH',
        url: `/api/products/${productId}`,
        payload: { name: 'n'.repeat(201) },
      });
      expect(problem(longName, 422).errors?.[0]).toMatchObject({ pointer: '/name' });
      const tooManyLines = await t.actingAs(alice).inject({
        method: 'POST',
        url: '/api/orders',
        payload: { items: Array.from({ length: 101 }, () => ({ productId, quantity: 1 })) },
      });
      expect(problem(tooManyLines, 422).errors?.map((e) => e.pointer)).toContain('/items');
      const hugeQuantity = await t.actingAs(alice).inject({
        method: 'POST',
        url: '/api/orders',
        payload: { items: [{ productId, quantity: 1_000_000 }] },
      });
      expect(problem(hugeQuantity, 422).errors?.[0]).toMatchObject({ pointer: '/items/0/quantity' });
      const longPassword = await post('/api/auth/register', {
        email: 'long@example.com',
        password: 'p'.repeat(5000),
      });
      expect(problem(longPassword, 422).errors?.[0]).toMatchObject({ pointer: '/password' });
    });

    it('refuses query strings that nest deeper than the language, and include paths deeper than 2', async () => {
      problem(await t.anonymous().inject('/api/products?filter[a][b][c][d][e]=1'), 400);
      problem(await t.anonymous().inject('/api/products?include=category.parent.parent'), 400);
    });
  });

  describe('API5 Broken Function Level Authorization', () => {
    // Deeper: test/auth-permissions.e2e-spec.ts (matrix), test/openapi-security.e2e-spec.ts (docs vs guard).
    it('a signed-in customer gets 403 on staff functions and writes; anonymous callers 401', async () => {
      const asAlice = t.actingAs(alice);
      const calls: [string, string, object?][] = [
        ['POST', '/api/products', { name: 'x', sku: 'X-1', price: '1.00', categoryId: 1 }],
        ['DELETE', `/api/products/${productId}`],
        ['GET', '/api/users'],
        ['PATCH', `/api/users/${alice.id}`, { isStaff: true }],
        ['GET', '/api/audit-entries'],
        ['GET', '/admin/api/schema'],
        ['GET', '/admin/api/jobs/queues'],
        ['GET', '/admin/api/dashboard'],
      ];
      for (const [method, url, payload] of calls) {
        problem(await asAlice.inject({ method: method as 'GET', url, ...(payload ? { payload } : {}) }), 403);
        problem(
          await t.anonymous().inject({ method: method as 'GET', url, ...(payload ? { payload } : {}) }),
          401,
        );
      }
      const [row] = await dataSource.query<{ isStaff: boolean }[]>(
        'SELECT "isStaff" FROM "user" WHERE id = $1',
        [alice.id],
      );
      expect(row.isStaff).toBe(false);
    });

    it('an API key cannot manage API keys or change its owner’s password, whatever its owner may do', async () => {
      const key = await t.createApiKey(t.superuser!, ['products.view']);
      problem(
        await t
          .withApiKey(key)
          .inject({ method: 'POST', url: '/api/auth/api-keys', payload: { name: 'x', permissions: [] } }),
        403,
      );
      problem(
        await t.withApiKey(key).inject({
          method: 'POST',
          url: '/api/auth/password/change',
          payload: { currentPassword: t.superuser!.password, newPassword: 'a brand new password' },
        }),
        403,
      );
      problem(await t.withApiKey(key).inject({ method: 'DELETE', url: `/api/products/${productId}` }), 403);
    });
  });

  describe('API6 Unrestricted Access to Sensitive Business Flows', () => {
    // Stock races: test/reliability/concurrency.e2e-spec.ts. Login throttling: API2 above.
    beforeEach(() => dataSource.query('DELETE FROM login_attempt'));

    it(`registration: ${ACCOUNT_THROTTLES.registerPerIp.limit} per client address and hour, then 429 + Retry-After and no account`, async () => {
      const ip = nextIp();
      const { limit } = ACCOUNT_THROTTLES.registerPerIp;
      const statuses = [];
      for (let i = 0; i < limit; i++) {
        statuses.push(
          (
            await post(
              '/api/auth/register',
              { email: `bot${i}@example.com`, password: 'bot password 123' },
              ip,
            )
          ).statusCode,
        );
      }
      expect(statuses).toEqual(Array(limit).fill(202));
      const refused = await post(
        '/api/auth/register',
        { email: 'bot-extra@example.com', password: 'bot password 123' },
        ip,
      );
      expect(problem(refused, 429)).toMatchObject({ type: TOO_MANY_ATTEMPTS, status: 429 });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
      expect(await count(`SELECT count(*) AS n FROM "user" WHERE email = 'bot-extra@example.com'`)).toBe(0);
      // Another address is not affected.
      expect(
        (await post('/api/auth/register', { email: 'human@example.com', password: 'human password 1' }))
          .statusCode,
      ).toBe(202);
    });

    it(`forgot password: ${ACCOUNT_THROTTLES.forgotPerAccount.limit} per address and hour from any client addresses, alike for known and unknown addresses`, async () => {
      const { limit } = ACCOUNT_THROTTLES.forgotPerAccount;
      const known = await t.createUser();
      const answers: Record<string, LightMyRequestResponse> = {};
      for (const email of [known.email, 'nobody-here@example.com']) {
        for (let i = 0; i < limit; i++) {
          expect((await post('/api/auth/password/forgot', { email }, nextIp())).statusCode).toBe(202);
        }
        answers[email] = await post('/api/auth/password/forgot', { email: email.toUpperCase() }, nextIp());
      }
      const [a, b] = Object.values(answers);
      expect(problem(a, 429).type).toBe(TOO_MANY_ATTEMPTS);
      expect(b.statusCode).toBe(a.statusCode);
      // Alike but for the request id and the second the countdown was read at.
      const same = (body: string): string =>
        body.replace(/"requestId":"[^"]+"/, '').replace(/again in \d+ seconds/, 'again in N seconds');
      expect(same(b.body)).toBe(same(a.body));
      await t.drainJobs();
      expect(await t.mail.outbox({ to: known.email, subject: 'Reset your password' })).toHaveLength(limit);
    });

    it(`forgot password: ${ACCOUNT_THROTTLES.forgotPerIp.limit} per client address and hour across addresses`, async () => {
      const ip = nextIp();
      const { limit } = ACCOUNT_THROTTLES.forgotPerIp;
      const answers = await Promise.all(
        Array.from({ length: limit + 5 }, (_, i) =>
          post('/api/auth/password/forgot', { email: `probe${i}@example.com` }, ip),
        ),
      );
      const codes = answers.map((r) => r.statusCode);
      // Counted atomically: exactly the limit gets through, however parallel.
      expect(codes.filter((c) => c === 202)).toHaveLength(limit);
      expect(codes.filter((c) => c === 429)).toHaveLength(5);
    });
  });

  describe('API7 Server Side Request Forgery', () => {
    it('no operation takes a URL to fetch: no uri-formatted or url/callback/webhook-named input in the API', async () => {
      const document = (await t.inject('/docs-json')).json<{
        paths: Record<string, Record<string, unknown>>;
        components: { schemas: Record<string, unknown> };
      }>();
      const suspicious: string[] = [];
      const seen = new Set<string>();
      const walk = (node: unknown, where: string): void => {
        if (Array.isArray(node)) {
          node.forEach((item, i) => walk(item, `${where}/${i}`));
        } else if (node && typeof node === 'object') {
          for (const [key, value] of Object.entries(node) as [string, unknown][]) {
            if (key === '$ref' && typeof value === 'string' && !seen.has(value)) {
              seen.add(value); // follow into the referenced input schema
              walk(document.components.schemas[value.split('/').pop()!], value);
            }
            if (key === 'format' && (value === 'uri' || value === 'url')) {
              suspicious.push(where);
            }
            if (key === 'properties' && value && typeof value === 'object') {
              suspicious.push(
                ...Object.keys(value)
                  .filter((name) => /url|uri|callback|webhook|href/i.test(name))
                  .map((name) => `${where}/${name}`),
              );
            }
            if (key === 'name' && typeof value === 'string' && /url|uri|callback|webhook|href/i.test(value)) {
              suspicious.push(`${where}/${value}`);
            }
            walk(value, `${where}/${key}`);
          }
        }
      };
      // Inputs only: request bodies and parameters (responses such as links.self may carry URLs).
      for (const [path, operations] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          const { parameters, requestBody } = operation as { parameters?: unknown; requestBody?: unknown };
          walk(parameters, `${method} ${path} parameters`);
          walk(requestBody, `${method} ${path} body`);
        }
      }
      expect(seen.size).toBeGreaterThan(5); // request body schemas were followed
      expect(suspicious).toEqual([]);
    });
  });

  describe('API8 Security Misconfiguration', () => {
    // Deeper: test/http-contract.e2e-spec.ts (500 without stack or SQL, CORS allow-list, X-Request-Id).
    it('sends hardening headers and no X-Powered-By', async () => {
      // Per surface (JSON API, admin SPA, docs): test/reliability/asvs.e2e-spec.ts "response headers".
      const res = await t.anonymous().inject('/api/products');
      expect(res.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
      });
      expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
      expect(res.headers['x-powered-by']).toBeUndefined();
    });

    it('CORS is off without CORS_ORIGINS: no Access-Control-Allow-Origin for a foreign origin, preflight included', async () => {
      const simple = await t
        .anonymous()
        .inject({ url: '/api/products', headers: { origin: 'https://evil.tld' } });
      const preflight = await t.anonymous().inject({
        method: 'OPTIONS',
        url: '/api/products',
        headers: { origin: 'https://evil.tld', 'access-control-request-method': 'POST' },
      });
      for (const res of [simple, preflight]) {
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      }
    });

    it('errors are problem+json without internals; TRACE is not echoed', async () => {
      const malformed = await t.inject({
        method: 'POST',
        url: '/api/categories',
        headers: { 'content-type': 'application/json' },
        payload: '{"name": ',
      });
      const trace = await t.inject({
        method: 'TRACE' as 'GET',
        url: '/api/products',
        headers: { 'x-secret': 'echo-me' },
      });
      const badId = await t.inject('/api/products/99999999999999999999');
      for (const res of [malformed, trace, badId]) {
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.body).not.toMatch(
          /echo-me|authorization|Bearer|at \w+ \(|node_modules|\.ts:\d+|SELECT|QueryFailedError/,
        );
      }
    });

    it("poisoned Host headers (Django's list) are refused with 400 before any handler runs", async () => {
      const tagsBefore = await count('SELECT count(*) AS n FROM tag');
      await t.mail.clear();
      // inject turns an empty Host into localhost:80 (Node itself answers 400 to a request without Host):
      // the unit spec (allowed-hosts.spec.ts) covers the empty value.
      for (const host of POISONED_HOSTS.filter(Boolean)) {
        const list = await t.anonymous().inject({ url: '/api/products?limit=1', headers: { host } });
        const created = await t.inject({
          method: 'POST',
          url: '/api/tags',
          headers: { host },
          payload: { name: `host-${POISONED_HOSTS.indexOf(host)}` },
        });
        const forgot = await post('/api/auth/password/forgot', { email: alice.email }, nextIp(), { host });
        const missing = await t.anonymous().inject({ url: '/nowhere', headers: { host } });
        for (const res of [list, created, forgot, missing]) {
          expect(problem(res, 400).type).toBe('urn:nestor:problem:disallowed-host');
          expect(res.body).not.toMatch(/evil\.tld|recovermypassword|frankenstein|badpath/);
          expect(res.headers.location).toBeUndefined();
        }
      }
      expect(await count('SELECT count(*) AS n FROM tag')).toBe(tagsBefore);
      expect(await t.mail.outbox({ to: alice.email })).toHaveLength(0);
      // Probes and scrapes address a pod by its IP: they answer any Host.
      expect(
        (await t.anonymous().inject({ url: '/health/live', headers: { host: 'evil.tld' } })).statusCode,
      ).toBe(200);
    });

    it("allowed Hosts: PUBLIC_URL's host and loopback, with any port", async () => {
      for (const host of ['shop.example', 'SHOP.example:8443', 'localhost:3000', '127.0.0.1', '[::1]:80']) {
        expect(
          (await t.anonymous().inject({ url: '/api/products?limit=1', headers: { host } })).statusCode,
        ).toBe(200);
      }
    });

    it('password reset mails link to PUBLIC_URL only, whatever X-Forwarded-Host and Forwarded say', async () => {
      const user = await t.createUser();
      await t.mail.clear();
      for (const host of ['shop.example', 'localhost', '127.0.0.1:3000']) {
        const res = await post('/api/auth/password/forgot', { email: user.email }, nextIp(), {
          host,
          'x-forwarded-host': 'evil.tld',
          'x-forwarded-proto': 'http',
          forwarded: 'host=evil.tld;proto=http',
        });
        expect(res.statusCode).toBe(202);
      }
      const mails = await t.mail.outbox({ to: user.email, subject: 'Reset your password' });
      expect(mails).toHaveLength(3);
      for (const mail of mails) {
        expect(mail.text).toContain(`${PUBLIC_URL}/api/auth/password/reset`);
        expect(`${mail.text}\n${mail.html}`).not.toMatch(/evil\.tld|localhost|127\.0\.0\.1/);
      }
    });

    it('/metrics with METRICS=protected: anonymous 401, a user without metrics.view 403, a key with it 200', async () => {
      problem(await t.anonymous().inject('/metrics'), 401);
      expect(problem(await t.actingAs(alice).inject('/metrics'), 403).detail).toMatch(/metrics\.view/);
      const scraper = await t.createUser({ permissions: ['metrics.view'] });
      const key = await t.createApiKey(scraper, ['metrics.view'], 'prometheus');
      const scrape = await t.withApiKey(key).inject('/metrics');
      expect(scrape.statusCode).toBe(200);
      expect(scrape.body).toContain('http_request_duration_seconds');
    });

    it('/metrics names route templates only: no ids, query strings, emails or tokens', async () => {
      await t.actingAs(alice).inject(`/api/orders/424242?fields=id&secret=${alice.accessToken}`);
      await post('/api/auth/login', { email: 'leak@example.com', password: 'not the password' });
      const metrics = await t.inject('/metrics');
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain('route="/api/orders/:id"');
      expect(metrics.body).not.toMatch(/424242|secret=|leak@example\.com|eyJ|\brt_\w{20}|\bnst_\w{10}/);
    });
  });

  describe('API8 Security Misconfiguration: the admin cookie session (CSRF and Origin)', () => {
    // Deeper: test/admin-api.e2e-spec.ts "CSRF on cookie sessions" (missing and wrong tokens, foreign Origin).
    it('an unsafe request needs the CSRF token and an Origin naming this host; poisoned Hosts do not help', async () => {
      const staff = await t.createUser({ isStaff: true, permissions: ['tags.add'] });
      const login = await adminLogin(staff, 'shop.example');
      expect(login.statusCode).toBe(200);
      const cookie = String(login.headers['set-cookie']).split(';')[0];
      const csrf = login.json<{ csrfToken: string }>().csrfToken;
      const attempt = (headers: Record<string, string>, name: string) =>
        t
          .anonymous()
          .inject({ method: 'POST', url: '/api/tags', headers: { cookie, ...headers }, payload: { name } });

      const refused = [
        await attempt({ host: 'shop.example', origin: 'http://shop.example' }, 'csrf-no-token'),
        await attempt(
          { host: 'shop.example', origin: 'https://evil.tld', 'x-csrf-token': csrf },
          'csrf-foreign',
        ),
        await attempt({ host: 'shop.example', origin: 'null', 'x-csrf-token': csrf }, 'csrf-null-origin'),
        await attempt(
          { host: 'shop.example', referer: 'https://localhost.evil.tld/', 'x-csrf-token': csrf },
          'csrf-referer',
        ),
      ];
      for (const res of refused) {
        expect(problem(res, 403).detail).toMatch(/CSRF/);
      }
      // A Host forged to match a foreign Origin never reaches the CSRF check: ALLOWED_HOSTS refuses it.
      const poisoned = await Promise.all(
        POISONED_HOSTS.slice(0, 5).map((host, i) =>
          attempt(
            { host, origin: `http://${host.replace(/\s/g, '')}`, 'x-csrf-token': csrf },
            `csrf-poisoned-${i}`,
          ),
        ),
      );
      for (const res of poisoned) {
        expect(problem(res, 400).type).toBe('urn:nestor:problem:disallowed-host');
      }
      expect(await count(`SELECT count(*) AS n FROM tag WHERE name LIKE 'csrf-%'`)).toBe(0);
      const allowed = await attempt(
        { host: 'shop.example', origin: 'http://shop.example', 'x-csrf-token': csrf },
        'csrf-ok',
      );
      expect(allowed.statusCode).toBe(201);
    });
  });

  describe('API9 Improper Inventory Management', () => {
    /** Every method + path Fastify serves, read from its route tree (HEAD and static files left out). */
    function servedRoutes(): Set<string> {
      const tree = t.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
      const routes = new Set<string>();
      const stack: string[] = [];
      for (const line of tree.split('\n')) {
        const match = /^(.*?)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
        if (!match) {
          continue;
        }
        const depth = match[1].length / 4;
        stack.length = depth;
        const path = `${stack.join('')}${match[2]}`;
        stack.push(match[2]);
        for (const method of (match[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) {
          routes.add(`${method} ${path.replace(/\/+/g, '/').replace(/:(\w+)/g, '{$1}')}`);
        }
      }
      return routes;
    }

    /**
     * Not part of the API: Swagger UI, GraphiQL and the admin SPA's static files, the email verification page,
     * security.txt.
     */
    // Swagger UI and the admin UI's files, including its SPA fallback (`/admin*`, present once admin/dist is built).
    const isStatic = (route: string): boolean =>
      /^GET \/((docs|admin)(\/|\*|-json|-yaml|$)(?!api\/)|auth\/verify-email$)/.test(route) ||
      /^GET \/graphiql(\/|$)/.test(route) ||
      route === 'GET /.well-known/security.txt' ||
      route === 'GET /'; // a browser's redirect to the documented API root, GET /api

    it('every route the server answers is in the OpenAPI document, and every documented operation exists', async () => {
      type Document = { info: { version: string }; paths: Record<string, Record<string, unknown>> };
      // One document per API version: the default one at /docs-json, each version at /docs/v<n>-json.
      const documents = [(await t.inject('/docs-json')).json<Document>()];
      for (let n = 1; n < 10; n++) {
        const res = await t.inject(`/docs/v${n}-json`);
        if (res.statusCode === 200) {
          documents.push(res.json<Document>());
        }
      }
      expect(documents.length).toBeGreaterThan(2); // the default document, v1 and v2
      // `/api/v<default>/…` is the default version's own path for `/api/…`, documented there.
      const defaultVersion = documents[0].info.version.split('.')[0];
      const documented = new Set(
        documents
          .flatMap((document) => Object.entries(document.paths))
          .flatMap(([path, operations]) =>
            Object.keys(operations)
              .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
              .map((m) => `${m.toUpperCase()} ${path}`),
          ),
      );
      // The GraphQL endpoint is inventoried by its own schema (introspection; test/snapshots/schema.graphql).
      const schema = await t.inject({
        method: 'POST',
        url: '/graphql',
        payload: { query: '{ __schema { queryType { name } mutationType { name } } }' },
      });
      expect(schema.json()).toEqual({
        data: { __schema: { queryType: { name: 'Query' }, mutationType: { name: 'Mutation' } } },
      });
      documented.add('GET /graphql').add('POST /graphql');
      const served = new Set(
        [...servedRoutes()].map((route) => route.replace(` /api/v${defaultVersion}/`, ' /api/')),
      );
      expect(served.size).toBeGreaterThan(40); // the tree parser found the API
      const undocumented = [...served].filter((route) => !isStatic(route) && !documented.has(route));
      const missing = [...documented].filter((route) => !served.has(route));
      expect(undocumented).toEqual([]);
      expect(missing).toEqual([]);
    });
  });

  describe('API10 Unsafe Consumption of APIs', () => {
    // Nestor calls no third-party API with user-influenced data; what it consumes is its own job queue and
    // the data stored by other clients. Shown here: data stored by one client is escaped when another
    // channel (the order confirmation mail's HTML) renders it.
    it('a product name with markup is escaped in the HTML confirmation mail', async () => {
      const category = await t.factory(Category).create({ name: 'Mail', slug: 'mail' });
      const evil = await t.factory(Product).create({
        sku: 'OWASP-XSS',
        name: '<img src=x onerror=alert(1)>Cup',
        price: '1.00',
        stock: 5,
        status: ProductStatus.Active,
        category,
      });
      await t.mail.clear();
      const placed = await t.actingAs(alice).inject({
        method: 'POST',
        url: '/api/orders',
        payload: { items: [{ productId: evil.id, quantity: 1 }] },
      });
      expect(placed.statusCode).toBe(201);
      const mail = await t.mail.expectSent({
        to: alice.email,
        subject: `Your order #${placed.json<{ id: number }>().id}`,
      });
      expect(mail.html).toContain('&lt;img src=x onerror=alert(1)&gt;Cup');
      expect(mail.html).not.toContain('<img src=x');
    });
  });
});
