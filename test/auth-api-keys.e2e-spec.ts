import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import type { Problem } from 'src/framework/http/problem';
import { TestApp, TestUser, createTestApp, createTestUser } from 'src/framework/testing';

interface ApiKeyBody {
  id: number;
  name: string;
  prefix: string;
  permissions: string[];
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });

function expectUnauthorized(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(401);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.headers['www-authenticate']).toBe('Bearer realm="nestor"');
  expect(res.json<Problem>()).toMatchObject({ status: 401, title: 'Unauthorized' });
}

function expectForbidden(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(403);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.json<Problem>()).toMatchObject({ status: 403, title: 'Forbidden' });
}

describe('API keys', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let admin: TestUser;
  let owner: TestUser;
  let categoryId: number;
  let sku = 0;

  const createKey = (user: { headers: object }, name: string, permissions: string[]) =>
    t.inject({
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: { ...user.headers },
      payload: { name, permissions },
    });
  const mintKey = async (
    user: { headers: object },
    permissions: string[],
  ): Promise<ApiKeyBody & { key: string }> => {
    const res = await createKey(user, 'test key', permissions);
    expect(res.statusCode).toBe(201);
    return res.json<ApiKeyBody & { key: string }>();
  };
  const listKeys = async (user: { headers: object }): Promise<ApiKeyBody[]> => {
    const res = await t.inject({ url: '/api/auth/api-keys', headers: { ...user.headers } });
    expect(res.statusCode).toBe(200);
    return res.json<ApiKeyBody[]>();
  };
  const addProduct = (headers: object) =>
    t.inject({
      method: 'POST',
      url: '/api/products',
      headers: { ...headers },
      payload: { name: 'Key product', sku: `KEY-${++sku}`, price: '9.99', stock: 5, categoryId },
    });

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot);
    dataSource = t.app.get(DataSource);
    admin = await createTestUser(t.app, { isSuperuser: true, isStaff: true });
    owner = await createTestUser(t.app, { permissions: ['orders.view', 'products.add'] });
    const category = await t.inject({
      method: 'POST',
      url: '/api/categories',
      headers: admin.headers,
      payload: { name: 'Keys', slug: 'keys' },
    });
    expect(category.statusCode).toBe(201);
    categoryId = category.json<{ id: number }>().id;
  });
  afterAll(() => t.close());

  it('creates a key shown once, with a visible prefix, and stores only its hash', async () => {
    const res = await createKey(owner, 'Warehouse sync', ['orders.view', 'products.add', 'orders.view']);
    expect(res.statusCode).toBe(201);
    const body = res.json<ApiKeyBody & { key: string }>();
    expect(body).toEqual({
      id: expect.any(Number),
      name: 'Warehouse sync',
      prefix: expect.stringMatching(/^[A-Za-z0-9]{12}$/),
      permissions: ['orders.view', 'products.add'],
      key: expect.stringMatching(/^nst_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/),
      lastUsedAt: null,
      revokedAt: null,
      createdAt: expect.any(String),
    });
    expect(body.key.startsWith(`nst_${body.prefix}_`)).toBe(true);
    const [row] = await dataSource.query<{ secretHash: string; userId: number }[]>(
      'SELECT "secretHash", "userId" FROM api_key WHERE id = $1',
      [body.id],
    );
    expect(row.userId).toBe(owner.id);
    expect(row.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.key).not.toContain(row.secretHash);
  });

  it('authenticates as its owner: a permission of the key is allowed', async () => {
    const { key } = await mintKey(owner, ['orders.view', 'products.add']);
    const created = await addProduct(bearer(key));
    expect(created.statusCode).toBe(201);

    const me = await t.inject({ url: '/api/auth/me', headers: bearer(key) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({
      id: owner.id,
      isStaff: false,
      isSuperuser: false,
      permissions: ['orders.view', 'products.add'],
    });
  });

  it('refuses an action needing a permission the key lacks, even when the owner has it (403)', async () => {
    const { key } = await mintKey(owner, ['orders.view']);
    expectForbidden(await addProduct(bearer(key)));
    expect((await addProduct(owner.headers)).statusCode).toBe(201); // the owner may
    const product = (await addProduct(owner.headers)).json<{ id: number }>();
    expectForbidden(
      await t.inject({
        method: 'PATCH',
        url: `/api/products/${product.id}`,
        headers: bearer(key),
        payload: { name: 'Renamed by key' },
      }),
    );
    expectForbidden(
      await t.inject({
        method: 'POST',
        url: '/api/categories',
        headers: bearer(key),
        payload: { name: 'By key', slug: 'by-key' },
      }),
    );
  });

  it("intersects with the owner's current permissions: a permission lost after creation is gone (403)", async () => {
    const user = await createTestUser(t.app, { permissions: ['orders.view', 'products.add'] });
    const { key } = await mintKey(user, ['orders.view', 'products.add']);
    expect((await addProduct(bearer(key))).statusCode).toBe(201);

    await dataSource.query(
      `DELETE FROM user_permissions WHERE "userId" = $1
         AND "permissionId" = (SELECT id FROM permission WHERE codename = 'products.add')`,
      [user.id],
    );
    expectForbidden(await addProduct(bearer(key)));
    const me = await t.inject({ url: '/api/auth/me', headers: bearer(key) });
    expect(me.json<{ permissions: string[] }>().permissions).toEqual(['orders.view']);

    // Given back (e.g. through a group), the key's own grant applies again.
    await dataSource.query(
      `INSERT INTO user_permissions ("userId", "permissionId")
       SELECT $1, id FROM permission WHERE codename = 'products.add'`,
      [user.id],
    );
    expect((await addProduct(bearer(key))).statusCode).toBe(201);
  });

  it("never carries superuser or staff powers: a superuser's key has only its listed permissions", async () => {
    const { key } = await mintKey(admin, ['products.add']);
    const product = await addProduct(bearer(key));
    expect(product.statusCode).toBe(201);
    expectForbidden(
      await t.inject({
        method: 'PATCH',
        url: `/api/products/${product.json<{ id: number }>().id}`,
        headers: bearer(key),
        payload: { name: 'Renamed by key' },
      }),
    );
    expectForbidden(
      await t.inject({
        method: 'POST',
        url: '/api/categories',
        headers: bearer(key),
        payload: { name: 'By admin key', slug: 'by-admin-key' },
      }),
    );
    const me = await t.inject({ url: '/api/auth/me', headers: bearer(key) });
    expect(me.json()).toMatchObject({ isSuperuser: false, isStaff: false });
  });

  it('records when a key was last used', async () => {
    const created = await mintKey(owner, ['orders.view']);
    expect(created.lastUsedAt).toBeNull();
    const before = Date.now();
    expect((await t.inject({ url: '/api/auth/me', headers: bearer(created.key) })).statusCode).toBe(200);
    const listed = (await listKeys(owner)).find((k) => k.id === created.id)!;
    expect(listed.lastUsedAt).not.toBeNull();
    expect(Date.parse(listed.lastUsedAt!)).toBeGreaterThanOrEqual(before - 5000);
  });

  it("lists the caller's keys only, never their secret or hash", async () => {
    const other = await createTestUser(t.app, { permissions: ['orders.view'] });
    const otherKey = await mintKey(other, ['orders.view']);
    const mine = await mintKey(owner, ['products.add']);
    const res = await t.inject({ url: '/api/auth/api-keys', headers: owner.headers });
    expect(res.statusCode).toBe(200);
    const keys = res.json<ApiKeyBody[]>();
    expect(keys.length).toBeGreaterThanOrEqual(1);
    expect(keys.map((k) => k.id)).toContain(mine.id);
    expect(keys.map((k) => k.id)).not.toContain(otherKey.id);
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(
        ['createdAt', 'id', 'lastUsedAt', 'name', 'permissions', 'prefix', 'revokedAt'].sort(),
      );
    }
    const [{ secretHash }] = await dataSource.query<{ secretHash: string }[]>(
      'SELECT "secretHash" FROM api_key WHERE id = $1',
      [mine.id],
    );
    const secret = mine.key.split('_').slice(2).join('_');
    expect(res.body).not.toContain(secret);
    expect(res.body).not.toContain(secretHash);
    expect(res.body).not.toContain('secretHash');
    expect(keys.find((k) => k.id === mine.id)).toMatchObject({ prefix: mine.prefix, name: 'test key' });
  });

  it('revokes a key: 204, then the key is a 401; revoking twice is harmless', async () => {
    const created = await mintKey(owner, ['orders.view']);
    expect((await t.inject({ url: '/api/auth/me', headers: bearer(created.key) })).statusCode).toBe(200);
    const res = await t.inject({
      method: 'DELETE',
      url: `/api/auth/api-keys/${created.id}`,
      headers: owner.headers,
    });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expectUnauthorized(await t.inject({ url: '/api/auth/me', headers: bearer(created.key) }));
    // A bad credential is refused even on public routes.
    expectUnauthorized(await t.inject({ url: '/api/products', headers: bearer(created.key) }));

    const listed = (await listKeys(owner)).find((k) => k.id === created.id)!;
    expect(listed.revokedAt).not.toBeNull();
    const again = await t.inject({
      method: 'DELETE',
      url: `/api/auth/api-keys/${created.id}`,
      headers: owner.headers,
    });
    expect(again.statusCode).toBe(204);
    expect((await listKeys(owner)).find((k) => k.id === created.id)?.revokedAt).toBe(listed.revokedAt);
  });

  it("cannot revoke another user's key (404), nor an unknown id", async () => {
    const created = await mintKey(owner, ['orders.view']);
    const other = await createTestUser(t.app);
    for (const id of [String(created.id), '999999', '99999999999', 'abc']) {
      const res = await t.inject({
        method: 'DELETE',
        url: `/api/auth/api-keys/${id}`,
        headers: other.headers,
      });
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect((await t.inject({ url: '/api/auth/me', headers: bearer(created.key) })).statusCode).toBe(200);
    expect((await listKeys(owner)).find((k) => k.id === created.id)?.revokedAt).toBeNull();
  });

  it('refuses garbage, unknown and tampered nst_ tokens with 401', async () => {
    const { key, prefix } = await mintKey(owner, ['orders.view']);
    const secret = key.slice(`nst_${prefix}_`.length);
    const tampered = `${secret.slice(0, 10)}${secret[10] === 'A' ? 'B' : 'A'}${secret.slice(11)}`;
    for (const token of [
      'nst_garbage',
      'nst_',
      `nst_${prefix}`,
      `nst_${prefix}_`,
      `nst_${prefix}_${tampered}`,
      `nst_${'A'.repeat(12)}_${secret}`,
      `nst_${prefix}_${secret}x`,
    ]) {
      expectUnauthorized(await t.inject({ url: '/api/auth/me', headers: bearer(token) }));
    }
  });

  it('refuses the key of a deactivated owner', async () => {
    const user = await createTestUser(t.app, { permissions: ['orders.view'] });
    const { key } = await mintKey(user, ['orders.view']);
    await dataSource.query('UPDATE "user" SET "isActive" = false WHERE id = $1', [user.id]);
    expectUnauthorized(await t.inject({ url: '/api/auth/me', headers: bearer(key) }));
  });

  it('an API key cannot manage API keys (403), even for permissions it holds', async () => {
    const { key, id } = await mintKey(owner, ['orders.view', 'products.add']);
    expectForbidden(await createKey({ headers: bearer(key) }, 'child', ['orders.view']));
    expectForbidden(await createKey({ headers: bearer(key) }, '', ['nope'])); // refused before validation
    expectForbidden(await t.inject({ url: '/api/auth/api-keys', headers: bearer(key) }));
    expectForbidden(
      await t.inject({ method: 'DELETE', url: `/api/auth/api-keys/${id}`, headers: bearer(key) }),
    );
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM api_key WHERE name = 'child'`,
    );
    expect(n).toBe(0);
  });

  it('needs a signed-in caller (401)', async () => {
    expectUnauthorized(await t.inject({ url: '/api/auth/api-keys' }));
    expectUnauthorized(await createKey({ headers: {} }, 'anon', []));
  });

  it('refuses permissions beyond your own with 422 pointing at each one', async () => {
    const res = await createKey(owner, 'Too much', [
      'orders.view',
      'products.delete',
      'products.add',
      'users.view',
    ]);
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json<Problem>()).toMatchObject({
      type: 'urn:nestor:problem:validation-failed',
      status: 422,
      errors: [
        { pointer: '/permissions/1', code: 'notHeld' },
        { pointer: '/permissions/3', code: 'notHeld' },
      ],
    });
    expect(res.json<Problem>().errors).toHaveLength(2);
  });

  it('refuses unknown codenames with 422, also for superusers, who may grant any existing one', async () => {
    for (const user of [owner, admin]) {
      const res = await createKey(user, 'Unknown', ['orders.view', 'orders.fly']);
      expect(res.statusCode).toBe(422);
      expect(res.json<Problem>().errors).toEqual([
        { pointer: '/permissions/1', code: 'unknown', message: expect.any(String) },
      ]);
    }
    const granted = await mintKey(admin, ['groups.delete', 'orders.change']);
    expect(granted.permissions).toEqual(['groups.delete', 'orders.change']);
  });

  it('validates the body with pointers', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: owner.headers,
      payload: { name: '', permissions: ['orders.view', 3], extra: true },
    });
    expect(res.statusCode).toBe(422);
    const pointers = res.json<Problem>().errors?.map((e) => e.pointer);
    expect(pointers).toEqual(expect.arrayContaining(['/name', '/permissions', '/extra']));
    const missing = await t.inject({
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: owner.headers,
      payload: { name: 'No permissions field' },
    });
    expect(missing.statusCode).toBe(422);
    expect(missing.json<Problem>().errors?.map((e) => e.pointer)).toContain('/permissions');
  });
});
