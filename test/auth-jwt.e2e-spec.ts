import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { deriveKey } from 'src/framework/crypto/keys';
import { JWT_AUDIENCE, JWT_ISSUER } from 'src/framework/auth/token.service';
import type { Problem } from 'src/framework/http/problem';
import { TestApp, TestUser, createTestApp, createTestUser } from 'src/framework/testing';

const b64 = (value: object | Buffer): string =>
  (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** A JWT with any header, claims and signer (the signer gets `<header>.<payload>`). */
function forge(header: object, claims: object, sign: (input: string) => string = () => ''): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign(input)}`;
}

const hmac =
  (algorithm: 'sha256' | 'sha512', secret: Buffer | string) =>
  (input: string): string =>
    createHmac(algorithm, secret).update(input).digest('base64url');

type TokenPairBody = { accessToken: string; refreshToken: string };

function expectUnauthorized(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(401);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.headers['www-authenticate']).toBe('Bearer realm="nestor"');
  expect(res.json<Problem>()).toMatchObject({
    type: 'urn:nestor:problem:unauthorized',
    title: 'Unauthorized',
    status: 401,
  });
}

describe('JWT access tokens and refresh rotation', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let user: TestUser;
  let secret: Buffer;
  const now = (): number => Math.floor(Date.now() / 1000);
  const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    sub: String(user.id),
    iss: JWT_ISSUER,
    aud: JWT_AUDIENCE,
    iat: now(),
    exp: now() + 600,
    ...overrides,
  });
  const hs256 = (payload: object): string =>
    forge({ alg: 'HS256', typ: 'JWT' }, payload, hmac('sha256', secret));
  const me = (token: string) =>
    t.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${token}` } });
  const refresh = (refreshToken: string) =>
    t.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken } });

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot);
    dataSource = t.app.get(DataSource);
    user = await createTestUser(t.app, { permissions: ['orders.view'] });
    secret = deriveKey(t.config.secretKey, 'jwt');
  });
  afterAll(() => t.close());

  it('accepts an issued token and a correctly forged one (the forger is sound)', async () => {
    expect((await me(user.accessToken)).statusCode).toBe(200);
    const res = await me(hs256(claims()));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: user.id, permissions: ['orders.view'] });
  });

  it('refuses alg "none" (any spelling), signed or not', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      expectUnauthorized(await me(forge({ alg, typ: 'JWT' }, claims())));
      expectUnauthorized(await me(forge({ alg, typ: 'JWT' }, claims(), hmac('sha256', secret))));
    }
  });

  it('refuses RS256 tokens and HS/RS confusion', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs256 = forge({ alg: 'RS256', typ: 'JWT' }, claims(), (input) =>
      createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url'),
    );
    expectUnauthorized(await me(rs256));
    // The classic confusion: HS256 keyed with a public key.
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    expectUnauthorized(await me(forge({ alg: 'HS256', typ: 'JWT' }, claims(), hmac('sha256', pem))));
    // HS256 with another secret, and the right secret under another HMAC algorithm.
    expectUnauthorized(
      await me(forge({ alg: 'HS256', typ: 'JWT' }, claims(), hmac('sha256', 'not the key'))),
    );
    expectUnauthorized(
      await me(forge({ alg: 'HS256', typ: 'JWT' }, claims(), hmac('sha256', deriveKey('other', 'jwt')))),
    );
    expectUnauthorized(await me(forge({ alg: 'HS512', typ: 'JWT' }, claims(), hmac('sha512', secret))));
  });

  it('refuses a tampered signature or payload', async () => {
    const [header, payload, signature] = user.accessToken.split('.');
    const flipped = `${signature.slice(0, 5)}${signature[5] === 'A' ? 'B' : 'A'}${signature.slice(6)}`;
    expectUnauthorized(await me(`${header}.${payload}.${flipped}`));
    expectUnauthorized(await me(`${header}.${payload}.`));
    expectUnauthorized(await me(`${header}.${payload}`));

    const other = await createTestUser(t.app, { isSuperuser: true });
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const escalated = b64({ ...decoded, sub: String(other.id) });
    expectUnauthorized(await me(`${header}.${escalated}.${signature}`));
    const longer = b64({ ...decoded, exp: now() + 365 * 24 * 3600 });
    expectUnauthorized(await me(`${header}.${longer}.${signature}`));
  });

  it('refuses expired tokens and tokens without exp', async () => {
    expectUnauthorized(await me(hs256(claims({ iat: now() - 3600, exp: now() - 60 }))));
    const { exp: _exp, ...withoutExp } = claims();
    expectUnauthorized(await me(hs256(withoutExp)));
    expectUnauthorized(await me(hs256(claims({ exp: String(now() + 600) }))));
  });

  it('refuses a wrong or missing audience or issuer', async () => {
    expectUnauthorized(await me(hs256(claims({ aud: 'someone-else' }))));
    expectUnauthorized(await me(hs256(claims({ iss: 'evil' }))));
    const { aud: _aud, ...withoutAud } = claims();
    expectUnauthorized(await me(hs256(withoutAud)));
    const { iss: _iss, ...withoutIss } = claims();
    expectUnauthorized(await me(hs256(withoutIss)));
  });

  it('refuses tokens of unknown subjects and of deactivated users', async () => {
    expectUnauthorized(await me(hs256(claims({ sub: '999999' }))));
    expectUnauthorized(await me(hs256(claims({ sub: 'admin' }))));
    const { sub: _sub, ...withoutSub } = claims();
    expectUnauthorized(await me(hs256(withoutSub)));

    const leaving = await createTestUser(t.app);
    expect((await me(leaving.accessToken)).statusCode).toBe(200);
    await dataSource.query('UPDATE "user" SET "isActive" = false WHERE id = $1', [leaving.id]);
    expectUnauthorized(await me(leaving.accessToken));
    expectUnauthorized(await refresh(leaving.refreshToken));
  });

  it('refuses malformed Authorization headers, also on public routes', async () => {
    for (const authorization of [
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      'Bearer not.a.jwt',
      user.accessToken,
    ]) {
      expectUnauthorized(await t.inject({ url: '/api/auth/me', headers: { authorization } }));
      expectUnauthorized(await t.inject({ url: '/api/products', headers: { authorization } }));
    }
  });

  it('lets exactly one of 50 parallel refreshes of one token through', async () => {
    const racer = await createTestUser(t.app);
    const responses = await Promise.all(Array.from({ length: 50 }, () => refresh(racer.refreshToken)));
    const codes = responses.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c === 401)).toHaveLength(49);
    for (const res of responses.filter((r) => r.statusCode === 401)) {
      expectUnauthorized(res);
    }
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM refresh_token WHERE "userId" = $1',
      [racer.id],
    );
    expect(n).toBe(2); // the spent token and exactly one successor
  });

  it('rotates refresh tokens; presenting a rotated one revokes the whole family', async () => {
    const session = await createTestUser(t.app);
    const first = await refresh(session.refreshToken);
    expect(first.statusCode).toBe(200);
    const second = first.json<TokenPairBody>();
    expect(second.refreshToken).not.toBe(session.refreshToken);
    expect((await me(second.accessToken)).statusCode).toBe(200);

    const next = await refresh(second.refreshToken);
    expect(next.statusCode).toBe(200);
    const third = next.json<TokenPairBody>();

    // A thief replays the rotated token: refused, and the legitimate chain dies with it.
    expectUnauthorized(await refresh(session.refreshToken));
    expectUnauthorized(await refresh(third.refreshToken));
    expectUnauthorized(await refresh(second.refreshToken));
    const rows = await dataSource.query<{ revokedAt: Date | null }[]>(
      'SELECT "revokedAt" FROM refresh_token WHERE "userId" = $1',
      [session.id],
    );
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);

    // Other sessions of the same user are untouched.
    const login = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: session.email, password: session.password },
    });
    expect(login.statusCode).toBe(200);
    expect((await refresh(login.json<TokenPairBody>().refreshToken)).statusCode).toBe(200);
  });

  it('refuses unknown and malformed refresh tokens', async () => {
    expectUnauthorized(await refresh(`rt_${'A'.repeat(43)}`));
    const malformed = await refresh('not-a-refresh-token');
    expect(malformed.statusCode).toBe(422);
  });
});
