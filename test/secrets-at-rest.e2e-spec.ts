import { execFileSync } from 'node:child_process';
import { generate } from 'otplib';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { TestApp, TestDatabase, TestUser, createTestApp, createTestDatabase } from 'src/framework/testing';
import { cli, ensureBuild } from 'test/support/processes';

const OLD_KEY = 'old-key-Q7m2Vx9pL4sT8wZ1cR6nB3yH5jK0dF2g';
const NEW_KEY = 'new-key-A1s2D3f4G5h6J7k8L9z0X1c2V3b4N5m6';

/** A database's full dump, as a backup or a stolen copy would hold it. */
const dump = (url: string): string => execFileSync('pg_dump', ['--no-owner', url], { encoding: 'utf8' });

/** The TOTP code for now. */
const totp = (secret: string): Promise<string> => generate({ secret });

/**
 * TOTP secrets are stored encrypted under SECRET_KEY: a dump holds none in clear, a rotation keeps them
 * working through SECRET_KEY_FALLBACKS, and `nestor rotate-secrets` re-encrypts them under the new key.
 */
describe('Secrets encrypted at rest (SECRET_KEY, SECRET_KEY_FALLBACKS, nestor rotate-secrets)', () => {
  let db: TestDatabase;
  let t: TestApp | undefined;
  let user: TestUser;
  let secret: string;
  let recoveryCodes: string[];
  /** A secret stored in clear before encryption at rest (e.g. imported), for a second account. */
  const legacySecret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  let legacyUser: TestUser;

  const boot = async (env: Record<string, string>): Promise<TestApp> => {
    await t?.close();
    t = await createTestApp(AppModule.forRoot, { env: { DATABASE_URL: db.url, ...env } });
    return t;
  };
  const stored = async (id: number): Promise<string> => {
    const [row] = await t!.app
      .get(DataSource)
      .query<{ totpSecret: string }[]>('SELECT "totpSecret" FROM "user" WHERE id = $1', [id]);
    return row.totpSecret;
  };
  /**
   * A login with the second factor. Each accepted TOTP step is spent (replay protection), and this test
   * logs in more often than the tolerance has steps: the last step is forgotten first.
   */
  const login = async (who: TestUser, otp: string | Promise<string>): Promise<number> => {
    await t!.app.get(DataSource).query('UPDATE "user" SET "totpLastStep" = NULL WHERE id = $1', [who.id]);
    const res = await t!.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: who.email, password: who.password, otp: await otp },
    });
    return res.statusCode;
  };

  beforeAll(async () => {
    ensureBuild();
    db = await createTestDatabase();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await db.drop();
  });

  it('stores the TOTP secret encrypted: neither the table nor a pg_dump holds it in clear', async () => {
    await boot({ SECRET_KEY: OLD_KEY });
    user = await t!.createUser({ password: 'correct horse battery staple' });
    const auth = { authorization: `Bearer ${user.accessToken}` };
    const setup = await t!.inject({ method: 'POST', url: '/api/auth/2fa/setup', headers: auth });
    secret = setup.json<{ secret: string }>().secret;
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    const enabled = await t!.inject({
      method: 'POST',
      url: '/api/auth/2fa/enable',
      headers: auth,
      payload: { code: await totp(secret) },
    });
    expect(enabled.statusCode).toBe(200);
    recoveryCodes = enabled.json<{ recoveryCodes: string[] }>().recoveryCodes;

    expect(await stored(user.id)).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    const backup = dump(db.url);
    expect(backup).toContain(await stored(user.id)); // the dump has the row…
    expect(backup).not.toContain(secret); // …but not the secret
    expect(backup.toLowerCase()).not.toContain(secret.toLowerCase());

    expect(await login(user, totp(secret))).toBe(200);
    expect(await login(user, '000000')).toBe(401);
  });

  it('still reads a secret stored in clear (before encryption at rest)', async () => {
    legacyUser = await t!.createUser({ password: 'correct horse battery staple' });
    await t!.app
      .get(DataSource)
      .query('UPDATE "user" SET "totpSecret" = $2, "totpEnabled" = true WHERE id = $1', [
        legacyUser.id,
        legacySecret,
      ]);
    expect(await login(legacyUser, totp(legacySecret))).toBe(200);
  });

  it('after a rotation, the old key in SECRET_KEY_FALLBACKS still opens secrets and recovery codes', async () => {
    await boot({ SECRET_KEY: NEW_KEY, SECRET_KEY_FALLBACKS: OLD_KEY });
    expect(await login(user, totp(secret))).toBe(200);
    expect(await login(user, recoveryCodes[0])).toBe(200);
    expect(await login(legacyUser, totp(legacySecret))).toBe(200);
  });

  it('`nestor rotate-secrets` re-encrypts every secret under the new key; then no fallback is needed', async () => {
    const before = await stored(user.id);
    const run = cli(['rotate-secrets'], {
      DATABASE_URL: db.url,
      SECRET_KEY: NEW_KEY,
      SECRET_KEY_FALLBACKS: OLD_KEY,
    });
    expect(run.output).toContain(
      'TOTP secrets: 2 re-encrypted under the current SECRET_KEY, 0 already were.',
    );
    expect(run.status).toBe(0);
    expect(await stored(user.id)).not.toBe(before);
    expect(await stored(legacyUser.id)).toMatch(/^v1\./);
    expect(dump(db.url)).not.toContain(legacySecret);

    // A second run finds nothing left to do.
    const again = cli(['rotate-secrets'], { DATABASE_URL: db.url, SECRET_KEY: NEW_KEY });
    expect(again.output).toContain(
      'TOTP secrets: 0 re-encrypted under the current SECRET_KEY, 2 already were.',
    );

    await boot({ SECRET_KEY: NEW_KEY });
    expect(await login(user, totp(secret))).toBe(200);
    expect(await login(legacyUser, totp(legacySecret))).toBe(200);
  }, 120_000);

  it('refuses to guess: a secret no configured key opens stops the command with a coded message', () => {
    const run = cli(['rotate-secrets'], { DATABASE_URL: db.url, SECRET_KEY: OLD_KEY });
    expect(run.status).toBe(1);
    expect(run.output).toContain('NST-A002');
  }, 60_000);
});
