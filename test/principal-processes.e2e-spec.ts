import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { NestorProcess, cli, ensureBuild, freePort } from 'test/support/processes';
import { TEST_REDIS_URL, deleteRedisKeys } from 'test/support/redis';

/**
 * Two API processes as deployed (built dist/, real sockets) on one database and one Redis prefix, each
 * keeping the principal stamp in memory from its subscription: a change answered by one is seen by the
 * other on the very next request, every time.
 */
describe('Principal stamps across two API processes', () => {
  const prefix = `pstamps-${process.pid}-${randomBytes(3).toString('hex')}`;
  const root = { email: 'root@example.com', password: 'a long enough secret' };
  const victim = { email: 'victim@example.com', password: 'another long secret' };
  let db: TestDatabase;
  let dataDir: string;
  const servers: { proc: NestorProcess; url: string }[] = [];

  const call = async (server: number, method: string, path: string, token: string, body?: unknown) =>
    fetch(`${servers[server].url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  beforeAll(async () => {
    ensureBuild();
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'nestor-pstamps-'));
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      JOBS_PREFIX: prefix,
      DATA_DIR: dataDir,
      SECRET_KEY: randomBytes(32).toString('base64url'),
    };
    expect(cli(['migrate'], env).status).toBe(0);
    for (const user of [root, victim]) {
      const created = cli(['createsuperuser', '--no-input'], {
        ...env,
        NESTOR_SUPERUSER_EMAIL: user.email,
        NESTOR_SUPERUSER_PASSWORD: user.password,
      });
      expect(created.status).toBe(0);
    }
    for (let i = 0; i < 2; i++) {
      const port = String(await freePort());
      const proc = new NestorProcess('main', { ...env, PORT: port });
      servers.push({ proc, url: `http://127.0.0.1:${port}` });
      await proc.waitFor('Nestor is listening', 60_000);
    }
  }, 180_000);
  afterAll(async () => {
    await Promise.all(servers.map(({ proc }) => proc.stop()));
    await db?.drop();
    await deleteRedisKeys(TEST_REDIS_URL, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a superuser flag taken or given through one process counts on the next request to the other', async () => {
    const [rootToken, victimToken] = await Promise.all([signIn(0, root), signIn(0, victim)]);
    const me = (await (
      await call(0, 'GET', '/api/users?filter[email]=victim@example.com', rootToken)
    ).json()) as {
      data: { id: number }[];
    };
    const victimId = me.data[0].id;
    // The first authenticated request opens each process's subscription.
    for (const server of [0, 1]) {
      expect((await call(server, 'GET', '/api/users?limit=1', victimToken)).status).toBe(200);
      await servers[server].proc.waitFor(`Subscribed to ${prefix}:principals`);
    }
    for (let round = 0; round < 10; round++) {
      const writer = round % 2;
      const reader = 1 - writer;
      const superuser = round % 4 >= 2;
      const patch = await call(writer, 'PATCH', `/api/users/${victimId}`, rootToken, {
        isSuperuser: superuser,
      });
      expect(patch.status).toBe(200);
      expect((await call(reader, 'GET', '/api/users?limit=1', victimToken)).status).toBe(
        superuser ? 200 : 403,
      );
      expect((await call(writer, 'GET', '/api/users?limit=1', victimToken)).status).toBe(
        superuser ? 200 : 403,
      );
    }
    const deactivate = await call(1, 'PATCH', `/api/users/${victimId}`, rootToken, { isActive: false });
    expect(deactivate.status).toBe(200);
    expect((await call(0, 'GET', '/api/users?limit=1', victimToken)).status).toBe(401);
    for (const { proc } of servers) {
      expect(proc.output).not.toContain('No echo of a principal stamp');
    }
  });

  async function signIn(server: number, user: { email: string; password: string }): Promise<string> {
    const login = await fetch(`${servers[server].url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(user),
    });
    expect(login.status).toBe(200);
    return ((await login.json()) as { accessToken: string }).accessToken;
  }
});
