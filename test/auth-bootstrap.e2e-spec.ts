import { hash } from '@node-rs/argon2';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { AuthService } from 'src/framework/auth/auth.service';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { TestApp, createTestApp } from 'src/framework/testing';

const ADMIN = { ADMIN_EMAIL: 'Boss@Example.com', ADMIN_PASSWORD: 'first superuser pw' };

async function login(t: TestApp, email: string, password: string) {
  return t.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
}

describe.each(['postgres', 'embedded'] as const)(
  'First superuser and boot-time auth chores (%s)',
  (database) => {
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp(AppModule.forRoot, { database, env: ADMIN });
    });
    afterAll(() => t.close());

    it('creates an active, verified superuser from ADMIN_EMAIL / ADMIN_PASSWORD that can log in', async () => {
      const res = await login(t, 'boss@example.com', ADMIN.ADMIN_PASSWORD);
      expect(res.statusCode).toBe(200);
      const me = await t.inject({
        url: '/api/auth/me',
        headers: { authorization: `Bearer ${res.json<{ accessToken: string }>().accessToken}` },
      });
      expect(me.json()).toMatchObject({
        email: 'boss@example.com',
        isSuperuser: true,
        isStaff: true,
        emailVerified: true,
      });
    });

    it('does it once: a later boot neither duplicates the user nor resets a changed password', async () => {
      const dataSource = t.app.get(DataSource);
      await dataSource.query(`UPDATE "user" SET "passwordHash" = $1 WHERE email = 'boss@example.com'`, [
        await hash('changed password 1'),
      ]);
      await t.app.get(AuthService).onApplicationBootstrap();
      expect(await dataSource.query(`SELECT id FROM "user" WHERE email = 'boss@example.com'`)).toHaveLength(
        1,
      );
      expect((await login(t, 'boss@example.com', ADMIN.ADMIN_PASSWORD)).statusCode).toBe(401);
      expect((await login(t, 'boss@example.com', 'changed password 1')).statusCode).toBe(200);
    });

    it('creates view/add/change/delete permissions for every resource', async () => {
      const codenames = (
        await t.app.get(DataSource).query<{ codename: string }[]>('SELECT codename FROM permission')
      ).map((p) => p.codename);
      for (const { path } of t.app.get(ResourceRegistry).all()) {
        expect(codenames).toEqual(
          expect.arrayContaining(['view', 'add', 'change', 'delete'].map((action) => `${path}.${action}`)),
        );
      }
    });

    it('rehashes a password stored with outdated argon2 parameters at the next login', async () => {
      const dataSource = t.app.get(DataSource);
      await dataSource.query(
        `INSERT INTO "user" (email, "passwordHash", "emailVerified") VALUES ('old@example.com', $1, true)`,
        [await hash('an old password', { timeCost: 1, memoryCost: 8192 })],
      );
      expect((await login(t, 'old@example.com', 'an old password')).statusCode).toBe(200);
      const [row] = await dataSource.query<{ passwordHash: string }[]>(
        `SELECT "passwordHash" FROM "user" WHERE email = 'old@example.com'`,
      );
      expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect((await login(t, 'old@example.com', 'an old password')).statusCode).toBe(200);
    });
  },
);

describe('ADMIN_EMAIL without ADMIN_PASSWORD', () => {
  it('stops the boot with one configuration message', async () => {
    await expect(createTestApp(AppModule.forRoot, { env: { ADMIN_EMAIL: 'a@example.com' } })).rejects.toThrow(
      /NST-C001[\s\S]*ADMIN_EMAIL and ADMIN_PASSWORD/,
    );
  });
});
