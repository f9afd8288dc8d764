import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { TokenService } from 'src/framework/auth/token.service';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { FrozenProxy } from 'test/support/frozen-proxy';
import { TEST_REDIS_URL, deleteRedisKeys, sharedRedisEnv, testPrefix } from 'test/support/redis';
import { sleep, waitFor } from 'test/support/wait';

/**
 * Two processes behind one load balancer share PostgreSQL and Redis. Each caches principals (PrincipalCache);
 * a deactivation, a removed permission (direct or through a group), a logout or a password change made
 * through one of them counts on the very next request to the other.
 */
describe('Principal cache across two app instances sharing Redis', () => {
  const prefix = testPrefix('principals');
  const env = sharedRedisEnv(prefix);
  let a: TestApp;
  let b: TestApp;
  /** A reaches Redis through it, so a test can cut A alone off Redis. */
  let proxy: FrozenProxy;
  let categoryId: number;
  let n = 0;

  const create = async (app: TestApp, user: TestUser | { headers: { authorization: string } }) => {
    // Both apps run in this one process, and inject() hands a request over without any network: Redis's
    // message to the other app's subscriber, written in the same pass as the writer's own echo, can still be
    // in flight on loopback. 10 ms stands for the client's next request reaching another process.
    await new Promise((resolve) => setTimeout(resolve, 10));
    return app.inject({
      method: 'POST',
      url: '/api/products',
      headers: user.headers,
      payload: {
        name: 'Cached principal',
        sku: `PC-${++n}-${randomUUID().slice(0, 6).toUpperCase()}`,
        price: '1.00',
        categoryId,
      },
    });
  };

  /** Caches the user's principal in both processes: a create in each succeeds. */
  const warm = async (user: TestUser | { headers: { authorization: string } }) => {
    expect((await create(a, user)).statusCode).toBe(201);
    expect((await create(b, user)).statusCode).toBe(201);
  };

  beforeAll(async () => {
    proxy = await FrozenProxy.start(Number(new URL(TEST_REDIS_URL).port));
    a = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      env: { ...env, REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
    });
    const url = (a.app.get(DataSource).options as { url: string }).url;
    b = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { ...env, DATABASE_URL: url } });
    const [category] = await a.app
      .get(DataSource)
      .query<{ id: number }[]>(`INSERT INTO category (name, slug) VALUES ('Principals', $1) RETURNING id`, [
        `principals-${randomUUID()}`,
      ]);
    categoryId = category.id;
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await proxy?.close();
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
  });
  afterEach(() => jest.restoreAllMocks());

  it('reads a principal once per process, not on every request', async () => {
    const user = await a.createUser({ permissions: ['products.add'] });
    // loadPrincipal's query, as each process's TypeORM logger sees it.
    const principalQueries = [a, b].map((t) => jest.spyOn(t.app.get(DataSource).logger, 'logQuery'));
    const count = () =>
      principalQueries
        .flatMap((spy) => spy.mock.calls)
        .filter(([query]) => query.includes('FROM "user" u WHERE u.id = $1')).length;
    await warm(user);
    const first = count();
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(2); // at most once per process
    await warm(user);
    await warm(user);
    expect(count()).toBe(first);
  });

  it('a deactivated user is refused at once by the other process', async () => {
    const user = await a.createUser({ permissions: ['products.add'] });
    await warm(user);
    const patch = await a.inject({
      method: 'PATCH',
      url: `/api/users/${user.id}`,
      payload: { isActive: false },
    });
    expect(patch.statusCode).toBe(200);
    expect((await create(b, user)).statusCode).toBe(401);
    expect((await create(a, user)).statusCode).toBe(401);
  });

  it('a permission removed with raw SQL through the data source counts at once in the other process', async () => {
    const user = await a.createUser({ permissions: ['products.add'] });
    await warm(user);
    await a.app.get(DataSource).query('DELETE FROM user_permissions WHERE "userId" = $1', [user.id]);
    expect((await create(b, user)).statusCode).toBe(403);
  });

  it('a change made while its process could not reach Redis counts elsewhere once it can again, not a TTL later', async () => {
    const user = await a.createUser({ permissions: ['products.add'] });
    await warm(user);
    await proxy.cut(); // A alone loses Redis: a network split, a failover
    await a.app.get(DataSource).query('DELETE FROM user_permissions WHERE "userId" = $1', [user.id]);
    // B was not told: its cached principal still holds the permission.
    expect((await create(b, user)).statusCode).toBe(201);
    await proxy.restore();
    // A sends its invalidation again once Redis takes it: B refuses within seconds, not the cache's 60 s TTL.
    await waitFor(
      'the other process to refuse the removed permission',
      async () => (await create(b, user)).statusCode === 403 || (await sleep(200), false),
      10_000,
    );
  });

  it("a permission taken from the user's group counts at once in the other process", async () => {
    const user = await a.createUser();
    const group = await a.inject({
      method: 'POST',
      url: '/api/groups',
      payload: { name: `adders-${randomUUID()}`, permissionIds: await permissionIds(a, ['products.add']) },
    });
    expect(group.statusCode).toBe(201);
    const groupId = group.json<{ id: number }>().id;
    expect(
      (await a.inject({ method: 'PATCH', url: `/api/users/${user.id}`, payload: { groupIds: [groupId] } }))
        .statusCode,
    ).toBe(200);
    await warm(user);
    const emptied = await a.inject({
      method: 'PATCH',
      url: `/api/groups/${groupId}`,
      payload: { permissionIds: [] },
    });
    expect(emptied.statusCode).toBe(200);
    expect((await create(b, user)).statusCode).toBe(403);
  });

  it('a logout ends the access token of that session in the other process at once', async () => {
    const user = await a.createUser({ permissions: ['products.add'] });
    await warm(user);
    const logout = await a.anonymous().inject({
      method: 'POST',
      url: '/api/auth/logout',
      payload: { refreshToken: user.refreshToken },
    });
    expect(logout.statusCode).toBe(204);
    expect((await create(b, user)).statusCode).toBe(401);
  });

  it("a password change ends the user's other sessions in the other process at once, not this one", async () => {
    const user = await a.createUser({ permissions: ['products.add'] });
    const other = await a.app.get(TokenService).issue(user.id);
    const otherSession = { headers: { authorization: `Bearer ${other.accessToken}` } };
    await warm(user);
    await warm(otherSession);
    const change = await a.actingAs(user).inject({
      method: 'POST',
      url: '/api/auth/password/change',
      payload: { currentPassword: user.password, newPassword: 'another long passphrase 42' },
    });
    expect(change.statusCode).toBe(204);
    expect((await create(b, otherSession)).statusCode).toBe(401);
    expect((await create(b, user)).statusCode).toBe(201);
  });
});

async function permissionIds(t: TestApp, codenames: string[]): Promise<number[]> {
  const rows = await t.app
    .get(DataSource)
    .query<{ id: number }[]>('SELECT id FROM permission WHERE codename = ANY($1) ORDER BY id', [codenames]);
  return rows.map((row) => row.id);
}
