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
/** Rounds of the case under load: 40 in the suite (about 6 s); more to measure (PRINCIPAL_LOAD_ROUNDS=1000). */
const ROUNDS = Number(process.env.PRINCIPAL_LOAD_ROUNDS ?? 40);

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
      RATE_LIMIT_USER: 'off', // the load below is thousands of requests a minute from one user
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

  it(
    'under load, a change through one process counts on the next request to the other, every time',
    async () => {
      const rounds = ROUNDS;
      const [rootToken, victimToken] = await Promise.all([signIn(0, root), signIn(0, victim)]);
      const victimId = await userId(rootToken, victim.email);
      for (const server of [0, 1]) {
        expect((await call(server, 'GET', '/api/users?limit=1', victimToken)).status).toBe(200);
        await servers[server].proc.waitFor(`Subscribed to ${prefix}:principals`);
      }
      // Eight clients keep both processes busy with authenticated lists the whole time.
      let running = true;
      let loadRequests = 0;
      const load = async (server: number) => {
        while (running) {
          expect((await call(server, 'GET', '/api/users?limit=20', rootToken)).status).toBe(200);
          loadRequests++;
        }
      };
      const clients = Array.from({ length: 8 }, (_, i) => load(i % 2));
      const stale: number[] = [];
      const writeMs: number[] = [];
      const started = performance.now();
      try {
        for (let round = 0; round < rounds; round++) {
          const writer = round % 2;
          const superuser = round % 4 >= 2;
          const before = performance.now();
          const patch = await call(writer, 'PATCH', `/api/users/${victimId}`, rootToken, {
            isSuperuser: superuser,
          });
          expect(patch.status).toBe(200);
          writeMs.push(performance.now() - before);
          const read = await call(1 - writer, 'GET', '/api/users?limit=1', victimToken);
          if (read.status !== (superuser ? 200 : 403)) {
            stale.push(round);
          }
        }
      } finally {
        running = false;
        await Promise.all(clients);
        // The next case starts from a superuser victim, as the accounts were created.
        await call(0, 'PATCH', `/api/users/${victimId}`, rootToken, { isSuperuser: true });
      }
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(
        `principal stamps under load: ${rounds} rounds, ${stale.length} stale, ${loadRequests} load requests ` +
          `(${Math.round(loadRequests / seconds)}/s) in ${seconds.toFixed(1)} s; writes took ${percentiles(writeMs)}\n`,
      );
      expect(stale).toEqual([]);
    },
    30_000 + ROUNDS * 1000,
  );

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

  /** `p50 12 ms, p99 40 ms, max 48 ms` of `ms`. */
  function percentiles(ms: number[]): string {
    const sorted = [...ms].sort((a, b) => a - b);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
    return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${Math.round(sorted[sorted.length - 1])} ms`;
  }

  async function userId(token: string, email: string): Promise<number> {
    const found = await call(0, 'GET', `/api/users?filter[email]=${encodeURIComponent(email)}`, token);
    return ((await found.json()) as { data: { id: number }[] }).data[0].id;
  }

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
