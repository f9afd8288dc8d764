import { performance } from 'node:perf_hooks';
import type { LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { deriveKey } from 'src/framework/crypto/keys';
import { LOGIN_THROTTLE, TOO_MANY_ATTEMPTS, clientBucket } from 'src/framework/auth/login-throttle.service';
import { open } from 'src/framework/crypto/secret-box';
import { sha256 } from 'src/framework/auth/token.service';
import { OTP_INVALID, OTP_REQUIRED } from 'src/framework/auth/two-factor.service';
import { TestApp, TestUser, createTestApp, createTestUser } from 'src/framework/testing';

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

interface Status {
  enabled: boolean;
  pending: boolean;
  recoveryCodesLeft: number;
}

const PASSWORD = 'correct horse battery staple';

/** Asserts an RFC 9457 problem response and returns its body. */
function problem(res: LightMyRequestResponse, status: number): ProblemBody {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.json<ProblemBody>();
}

/** The body without what differs per request. */
function stable(res: LightMyRequestResponse): Omit<ProblemBody, 'requestId' | 'instance'> {
  const { requestId: _requestId, instance: _instance, ...rest } = res.json<ProblemBody>();
  return rest;
}

const seconds = (offset = 0): number => Math.floor(Date.now() / 1000) + offset;

/** The TOTP code of `secret`, `offset` seconds from now (30: the next time step). */
const totp = (secret: string, offset = 0): Promise<string> => generate({ secret, epoch: seconds(offset) });

/** A 6-digit code that is not valid anywhere near now. */
async function wrongCode(secret: string): Promise<string> {
  const valid = new Set(await Promise.all([-60, -30, 0, 30, 60].map((offset) => totp(secret, offset))));
  let n = 0;
  while (valid.has(String(n).padStart(6, '0'))) {
    n++;
  }
  return String(n).padStart(6, '0');
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('TOTP 2FA and login throttling (PostgreSQL)', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let ipCounter = 0;

  /** A client address of its own, so tests do not share the per-address budget. */
  const nextIp = (): string => `10.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}.7`;

  const login = (email: string, password: string, options: { otp?: string; ip?: string } = {}) =>
    t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email, password, ...(options.otp === undefined ? {} : { otp: options.otp }) },
      remoteAddress: options.ip ?? nextIp(),
    });

  const post = (user: TestUser, url: string, payload: object = {}, ip?: string) =>
    t.inject({ method: 'POST', url, headers: user.headers, payload, ...(ip ? { remoteAddress: ip } : {}) });

  const status = async (user: TestUser): Promise<Status> =>
    (await t.inject({ url: '/api/auth/2fa', headers: user.headers })).json<Status>();

  const userRow = async (id: number) =>
    (
      await dataSource.query<
        {
          totpSecret: string | null;
          totpEnabled: boolean;
          totpRecoveryCodes: string[];
          totpLastStep: number | null;
        }[]
      >('SELECT "totpSecret", "totpEnabled", "totpRecoveryCodes", "totpLastStep" FROM "user" WHERE id = $1', [
        id,
      ])
    )[0];

  /** Sets up and enables 2FA for a new user; returns the secret, recovery codes and the step used. */
  async function userWith2fa(): Promise<{ user: TestUser; secret: string; recoveryCodes: string[] }> {
    const user = await createTestUser(t.app, { isStaff: true, password: PASSWORD });
    const { secret } = (await post(user, '/api/auth/2fa/setup')).json<{ secret: string }>();
    const enabled = await post(user, '/api/auth/2fa/enable', { code: await totp(secret) });
    expect(enabled.statusCode).toBe(200);
    return { user, secret, recoveryCodes: enabled.json<{ recoveryCodes: string[] }>().recoveryCodes };
  }

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot);
    dataSource = t.app.get(DataSource);
  });
  afterAll(() => t.close());

  beforeEach(() => dataSource.query('DELETE FROM login_attempt'));

  describe('2FA', () => {
    let user: TestUser;
    let secret: string;
    let recoveryCodes: string[];
    let enableCode: string;

    beforeAll(async () => {
      user = await createTestUser(t.app, { isStaff: true, password: PASSWORD });
    });

    it('sets up a secret that is stored encrypted, and shows it once', async () => {
      expect(await status(user)).toEqual({ enabled: false, pending: false, recoveryCodesLeft: 0 });
      const res = await post(user, '/api/auth/2fa/setup');
      expect(res.statusCode).toBe(200);
      const body = res.json<{ secret: string; otpauthUri: string }>();
      secret = body.secret;
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      const uri = new URL(body.otpauthUri);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.host).toBe('totp');
      expect(decodeURIComponent(uri.pathname)).toBe(`/Nestor:${user.email}`);
      expect(uri.searchParams.get('secret')).toBe(secret);
      expect(uri.searchParams.get('issuer')).toBe('Nestor');

      const row = await userRow(user.id);
      expect(row.totpEnabled).toBe(false);
      expect(row.totpSecret).not.toBeNull();
      expect(row.totpSecret).not.toContain(secret);
      expect(row.totpSecret).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
      // AES-256-GCM under HKDF(SECRET_KEY, 'totp'), bound to this user's id.
      const key = deriveKey(t.config.secretKey, 'totp');
      expect(open(key, row.totpSecret!, `nestor:totp:user:${user.id}`)).toBe(secret);
      expect(() => open(key, row.totpSecret!, `nestor:totp:user:${user.id + 1}`)).toThrow();
      expect(await status(user)).toEqual({ enabled: false, pending: true, recoveryCodesLeft: 0 });

      // Not enabled yet: the password alone still logs in.
      expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
    });

    it('enables only with a current code and returns 10 recovery codes, stored hashed', async () => {
      const wrong = await post(user, '/api/auth/2fa/enable', { code: await wrongCode(secret) });
      expect(problem(wrong, 422)).toMatchObject({ errors: [{ pointer: '/code', code: 'invalid' }] });
      expect(problem(await post(user, '/api/auth/2fa/enable', { code: 'abc' }), 422)).toBeDefined();

      enableCode = await totp(secret);
      const res = await post(user, '/api/auth/2fa/enable', { code: enableCode });
      expect(res.statusCode).toBe(200);
      recoveryCodes = res.json<{ recoveryCodes: string[] }>().recoveryCodes;
      expect(recoveryCodes).toHaveLength(10);
      expect(new Set(recoveryCodes).size).toBe(10);
      for (const code of recoveryCodes) {
        expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
      }
      const row = await userRow(user.id);
      expect(row.totpEnabled).toBe(true);
      expect(row.totpLastStep).toEqual(expect.any(Number));
      // Keyed hashes (V2.6.3): neither the code nor its plain SHA-256 is stored.
      expect(row.totpRecoveryCodes).toHaveLength(10);
      for (const hash of row.totpRecoveryCodes) {
        expect(hash).toMatch(/^hmac:[0-9a-f]{64}$/);
      }
      const plain = recoveryCodes.map((c) => sha256(c.replace(/-/g, '')));
      expect(row.totpRecoveryCodes.some((h) => plain.some((p) => h.includes(p)))).toBe(false);
      expect(JSON.stringify(row.totpRecoveryCodes)).not.toContain(recoveryCodes[0].slice(0, 4));
      expect(await status(user)).toEqual({ enabled: true, pending: false, recoveryCodesLeft: 10 });

      expect(problem(await post(user, '/api/auth/2fa/setup'), 409)).toBeDefined();
      expect(
        problem(await post(user, '/api/auth/2fa/enable', { code: await totp(secret, 30) }), 409),
      ).toBeDefined();
    });

    it('asks for the code only after a correct password, and refuses wrong or replayed codes', async () => {
      const missing = problem(await login(user.email, PASSWORD), 401);
      expect(missing).toMatchObject({ type: OTP_REQUIRED, status: 401 });
      expect(missing.detail).toMatch(/otp/);

      // A wrong password never reveals that the account has 2FA, with or without a code.
      const wrongPassword = problem(await login(user.email, 'wrong password 123'), 401);
      expect(wrongPassword.type).toBe('urn:nestor:problem:unauthorized');
      const wrongBoth = problem(
        await login(user.email, 'wrong password 123', { otp: await totp(secret, 30) }),
        401,
      );
      expect(wrongBoth.type).toBe('urn:nestor:problem:unauthorized');

      const wrong = await login(user.email, PASSWORD, { otp: await wrongCode(secret) });
      expect(problem(wrong, 401).type).toBe(OTP_INVALID);
      expect(wrong.headers['www-authenticate']).toMatch(/^Bearer/);
      // The code that enabled 2FA was spent: its time step is used.
      expect(problem(await login(user.email, PASSWORD, { otp: enableCode }), 401).type).toBe(OTP_INVALID);
    });

    it('logs in with the next code once; a replay of that code is refused', async () => {
      const next = await totp(secret, 30);
      const ok = await login(user.email, PASSWORD, { otp: next });
      expect(ok.statusCode).toBe(200);
      const tokens = ok.json<Tokens>();
      expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
      const me = await t.inject({
        url: '/api/auth/me',
        headers: { authorization: `Bearer ${tokens.accessToken}` },
      });
      expect(me.json<{ id: number }>().id).toBe(user.id);

      expect(problem(await login(user.email, PASSWORD, { otp: next }), 401).type).toBe(OTP_INVALID);
    });

    it('accepts a code exactly once even when it is sent in parallel', async () => {
      await dataSource.query('UPDATE "user" SET "totpLastStep" = NULL WHERE id = $1', [user.id]);
      const code = await totp(secret);
      const ip = nextIp();
      const results = await Promise.all(
        Array.from({ length: 5 }, () => login(user.email, PASSWORD, { otp: code, ip })),
      );
      expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401, 401, 401, 401]);
    });

    it('accepts each recovery code once (case, spaces and dashes do not matter)', async () => {
      expect((await login(user.email, PASSWORD, { otp: recoveryCodes[0] })).statusCode).toBe(200);
      expect(problem(await login(user.email, PASSWORD, { otp: recoveryCodes[0] }), 401).type).toBe(
        OTP_INVALID,
      );
      const typed = ` ${recoveryCodes[1].replace(/-/g, '').toUpperCase()} `;
      expect((await login(user.email, PASSWORD, { otp: typed })).statusCode).toBe(200);
      expect(problem(await login(user.email, PASSWORD, { otp: 'aaaa-bbbb-cccc-dddd' }), 401).type).toBe(
        OTP_INVALID,
      );
      expect(await status(user)).toEqual({ enabled: true, pending: false, recoveryCodesLeft: 8 });
    });

    it('disables with the password or a code, and then logs in without one', async () => {
      expect(problem(await post(user, '/api/auth/2fa/disable', {}), 422)).toBeDefined();
      expect(
        problem(await post(user, '/api/auth/2fa/disable', { password: 'wrong password 123' }), 403),
      ).toBeDefined();
      expect(
        problem(await post(user, '/api/auth/2fa/disable', { code: recoveryCodes[0] }), 403),
      ).toBeDefined();
      expect((await post(user, '/api/auth/2fa/disable', { password: PASSWORD })).statusCode).toBe(204);

      expect(await userRow(user.id)).toEqual({
        totpSecret: null,
        totpEnabled: false,
        totpRecoveryCodes: [],
        totpLastStep: null,
      });
      expect(await status(user)).toEqual({ enabled: false, pending: false, recoveryCodesLeft: 0 });
      expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
      expect((await login(user.email, PASSWORD, { otp: recoveryCodes[2] })).statusCode).toBe(200);

      // With a current TOTP code instead of the password.
      const other = await userWith2fa();
      const code = await totp(other.secret, 30);
      expect((await post(other.user, '/api/auth/2fa/disable', { code })).statusCode).toBe(204);
      expect((await userRow(other.user.id)).totpEnabled).toBe(false);
    });

    it('needs a signed-in caller', async () => {
      const res = await t.inject({ method: 'POST', url: '/api/auth/2fa/setup', payload: {} });
      expect(problem(res, 401)).toBeDefined();
    });
  });

  describe('login throttling', () => {
    it(`locks an account after ${LOGIN_THROTTLE.limit} failures: even the right password gets 429 + Retry-After`, async () => {
      const user = await createTestUser(t.app, { password: PASSWORD });
      for (let i = 0; i < LOGIN_THROTTLE.limit; i++) {
        expect((await login(user.email, 'wrong password 123')).statusCode).toBe(401);
      }
      const locked = await login(user.email.toUpperCase(), PASSWORD);
      const body = problem(locked, 429);
      expect(body).toMatchObject({ type: TOO_MANY_ATTEMPTS, title: 'Too Many Requests', status: 429 });
      const retryAfter = Number(locked.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(LOGIN_THROTTLE.windowSeconds - 30);
      expect(retryAfter).toBeLessThanOrEqual(LOGIN_THROTTLE.windowSeconds);
      expect(body.detail).toContain(`${retryAfter} seconds`);
      expect(problem(await login(user.email, PASSWORD), 429)).toBeDefined();

      // Three minutes later (the window start moved back), the account works again.
      await dataSource.query(
        `UPDATE login_attempt SET "windowStart" = "windowStart" - make_interval(secs => $1)`,
        [LOGIN_THROTTLE.windowSeconds],
      );
      expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
    });

    it('resets the account counter on a successful login', async () => {
      const user = await createTestUser(t.app, { password: PASSWORD });
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < LOGIN_THROTTLE.limit - 1; i++) {
          expect((await login(user.email, 'wrong password 123')).statusCode).toBe(401);
        }
        expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
      }
    });

    it('limits a client address across different emails, and only on login', async () => {
      const ip = '198.51.100.23';
      const user = await createTestUser(t.app, { password: PASSWORD });
      for (let i = 0; i < LOGIN_THROTTLE.limit; i++) {
        expect((await login(`nobody${i}@test.nestor`, 'wrong password 123', { ip })).statusCode).toBe(401);
      }
      const locked = await login(user.email, PASSWORD, { ip });
      expect(problem(locked, 429).type).toBe(TOO_MANY_ATTEMPTS);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      // The same account from elsewhere, and other routes from this address, are not affected.
      expect((await login(user.email, PASSWORD)).statusCode).toBe(200);
      const me = await t.inject({ url: '/api/auth/me', headers: user.headers, remoteAddress: ip });
      expect(me.statusCode).toBe(200);
    });

    it('counts an IPv6 client by its /64', async () => {
      expect(clientBucket('2001:db8:1:2::a')).toBe('2001:db8:1:2::/64');
      expect(clientBucket('2001:0db8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64');
      expect(clientBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
      expect(clientBucket('::1')).toBe('0:0:0:0::/64');
      const user = await createTestUser(t.app, { password: PASSWORD });
      for (let i = 0; i < LOGIN_THROTTLE.limit; i++) {
        const ip = `2001:db8:1:2::${(i + 1).toString(16)}`;
        expect((await login(`v6-${i}@test.nestor`, 'wrong password 123', { ip })).statusCode).toBe(401);
      }
      expect((await login(user.email, PASSWORD, { ip: '2001:db8:1:2:abcd::1' })).statusCode).toBe(429);
      expect((await login(user.email, PASSWORD, { ip: '2001:db8:1:3::1' })).statusCode).toBe(200);
    });

    it('answers an unknown email exactly like a wrong password, in similar time', async () => {
      const user = await createTestUser(t.app, { password: PASSWORD });
      await login('warm-up@test.nestor', 'wrong password 123'); // the dummy hash is made on first use
      const wrong: number[] = [];
      const unknown: number[] = [];
      let lastWrong: LightMyRequestResponse | undefined;
      let lastUnknown: LightMyRequestResponse | undefined;
      for (let i = 0; i < 8; i++) {
        let start = performance.now();
        lastWrong = await login(user.email, `wrong password ${i}`);
        wrong.push(performance.now() - start);
        start = performance.now();
        lastUnknown = await login(`unknown-${i}@test.nestor`, `wrong password ${i}`);
        unknown.push(performance.now() - start);
      }
      expect(lastWrong!.statusCode).toBe(401);
      expect(lastUnknown!.statusCode).toBe(401);
      expect(stable(lastUnknown!)).toEqual(stable(lastWrong!));
      expect(lastUnknown!.headers['www-authenticate']).toBe(lastWrong!.headers['www-authenticate']);
      expect(lastUnknown!.headers['content-type']).toBe(lastWrong!.headers['content-type']);
      const ratio = median(unknown) / median(wrong);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
      if (process.env.REPORT_TIMING) {
        process.stdout.write(
          `login timing (median of 8): wrong password ${median(wrong).toFixed(1)} ms, unknown email ${median(unknown).toFixed(1)} ms\n`,
        );
      }

      // Locked, both answer the same too.
      for (let i = 0; i < LOGIN_THROTTLE.limit - 8; i++) {
        await login(user.email, 'wrong password 123');
      }
      for (let i = 0; i < LOGIN_THROTTLE.limit; i++) {
        await login('unknown-locked@test.nestor', 'wrong password 123');
      }
      const lockedKnown = await login(user.email, PASSWORD);
      const lockedUnknown = await login('unknown-locked@test.nestor', PASSWORD);
      expect(lockedKnown.statusCode).toBe(429);
      expect(lockedUnknown.statusCode).toBe(429);
      const { detail: _a, ...known } = stable(lockedKnown);
      const { detail: _b, ...unknownBody } = stable(lockedUnknown);
      expect(unknownBody).toEqual(known);
    });

    it('lets no more than the limit of parallel attempts reach the password check', async () => {
      const user = await createTestUser(t.app, { password: PASSWORD });
      const results = await Promise.all(
        Array.from({ length: 30 }, () => login(user.email, 'wrong password 123')),
      );
      const codes = results.map((r) => r.statusCode);
      expect(codes.filter((c) => c === 401)).toHaveLength(LOGIN_THROTTLE.limit);
      expect(codes.filter((c) => c === 429)).toHaveLength(30 - LOGIN_THROTTLE.limit);
    });

    it('counts wrong one-time codes, but not the "code required" step', async () => {
      const { user, secret } = await userWith2fa();
      for (let i = 0; i < LOGIN_THROTTLE.limit + 2; i++) {
        expect(problem(await login(user.email, PASSWORD), 401).type).toBe(OTP_REQUIRED);
      }
      expect((await login(user.email, PASSWORD, { otp: await totp(secret, 30) })).statusCode).toBe(200);
      const wrong = await wrongCode(secret);
      for (let i = 0; i < LOGIN_THROTTLE.limit; i++) {
        expect(problem(await login(user.email, PASSWORD, { otp: wrong }), 401).type).toBe(OTP_INVALID);
      }
      expect(problem(await login(user.email, PASSWORD, { otp: await totp(secret, 30) }), 429).type).toBe(
        TOO_MANY_ATTEMPTS,
      );
    });

    it('throttles 2FA disable (a password check) on the same account budget', async () => {
      const { user } = await userWith2fa();
      for (let i = 0; i < LOGIN_THROTTLE.limit; i++) {
        expect(
          (await post(user, '/api/auth/2fa/disable', { password: 'wrong password 123' }, nextIp()))
            .statusCode,
        ).toBe(403);
      }
      expect((await post(user, '/api/auth/2fa/disable', { password: PASSWORD }, nextIp())).statusCode).toBe(
        429,
      );
      expect((await login(user.email, PASSWORD)).statusCode).toBe(429);
    });

    it('stores no emails or addresses, only keyed hashes', async () => {
      await login('privacy@test.nestor', 'wrong password 123', { ip: '203.0.113.9' });
      const rows = await dataSource.query<{ key: string; scope: string; failures: number }[]>(
        'SELECT key, scope, failures FROM login_attempt ORDER BY scope',
      );
      expect(rows).toEqual([
        { key: expect.stringMatching(/^[0-9a-f]{64}$/), scope: 'account', failures: 1 },
        { key: expect.stringMatching(/^[0-9a-f]{64}$/), scope: 'ip', failures: 1 },
      ]);
      expect(JSON.stringify(rows)).not.toContain(sha256('account:privacy@test.nestor'));
    });
  });
});
