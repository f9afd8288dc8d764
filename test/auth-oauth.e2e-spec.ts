import { generateKeyPairSync, sign } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { Events, type MutableResponse, type MutableToken, OAuth2Server } from 'oauth2-mock-server';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { OAUTH_FLOW_COOKIE } from 'src/framework/auth/oauth.controller';
import { OAUTH_PROBLEMS } from 'src/framework/auth/oauth.service';
import { SecurityEvent, SecurityEvents } from 'src/framework/auth/security-events';
import type { Problem } from 'src/framework/http/problem';
import { TestApp, createTestApp } from 'src/framework/testing';

interface Pair {
  accessToken: string;
  refreshToken: string;
}

/** What the provider says about the person signing in (the mock's ID token carries it). */
interface Person {
  sub: string;
  email?: string;
  email_verified?: boolean;
}

/**
 * A mock provider on a free port with an RS256 key. The key goes in through JSON: the mock checks for plain
 * objects of its own realm, which Jest's sandbox is not for objects made by node:crypto.
 */
async function startProvider(): Promise<OAuth2Server> {
  const server = new OAuth2Server();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = JSON.parse(JSON.stringify(privateKey.export({ format: 'jwk' }))) as Record<string, unknown>;
  await server.issuer.keys.add({ ...jwk, alg: 'RS256', kid: 'provider-key' });
  await server.start(0, '127.0.0.1');
  return server;
}

const base64url = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('Sign in with OAuth 2 / OpenID Connect, against a real OAuth 2 server (oauth2-mock-server)', () => {
  let provider: OAuth2Server;
  let flaky: OAuth2Server;
  let t: TestApp;
  let dataSource: DataSource;
  const events: SecurityEvent[] = [];
  let people = 0;
  /** What the GitHub-like emails endpoint answers next. */
  let forgeEmails: { email: string; primary: boolean; verified: boolean }[] = [];

  /**
   * The mock signs the access token first, then the ID token: the outer `once` passes over the access
   * token and arms the inner one, which edits the ID token before it is signed.
   */
  const nextIdToken = (server: OAuth2Server, edit: (token: MutableToken) => void): void => {
    server.service.once(Events.BeforeTokenSigning, () => {
      server.service.once(Events.BeforeTokenSigning, edit);
    });
  };
  const as = (person: Person, server = provider) =>
    nextIdToken(server, (token) => Object.assign(token.payload, person));
  const newPerson = (overrides: Partial<Person> = {}): Person => {
    people += 1;
    return {
      sub: `person-${people}`,
      email: `Person${people}@Example.com`,
      email_verified: true,
      ...overrides,
    };
  };

  /** The browser's part: start, follow the redirect to the provider, which redirects back with a code. */
  const startSignIn = async (name = 'mock', mode?: 'admin') => {
    const start = await t.inject({
      url: `/api/auth/oauth/${name}/authorize${mode ? `?mode=${mode}` : ''}`,
    });
    expect(start.statusCode).toBe(302);
    const cookie = start.cookies.find((c) => c.name === OAUTH_FLOW_COOKIE)!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/auth/oauth', maxAge: 600 });
    const authorizationUrl = new URL(start.headers.location as string);
    const atProvider = await fetch(authorizationUrl, { redirect: 'manual' });
    expect(atProvider.status).toBe(302);
    return { cookie: cookie.value, authorizationUrl, callback: new URL(atProvider.headers.get('location')!) };
  };
  const callback = (url: URL, cookie: string | undefined) =>
    t.inject({
      url: url.pathname + url.search,
      cookies: cookie === undefined ? {} : { [OAUTH_FLOW_COOKIE]: cookie },
    });
  const signIn = async (person: Person, mode?: 'admin') => {
    as(person);
    const { cookie, callback: url } = await startSignIn('mock', mode);
    return callback(url, cookie);
  };
  const problem = (res: LightMyRequestResponse, status: number, type: string): Problem => {
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const body = res.json<Problem>();
    expect(body.type).toBe(type);
    return body;
  };
  const count = async (table: string): Promise<number> =>
    (await dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${table}"`))[0].n;
  const counts = async () => ({
    users: await count('user'),
    identities: await count('user_identity'),
    refreshTokens: await count('refresh_token'),
    sessions: await count('admin_session'),
  });
  const userByEmail = async (email: string) =>
    (
      await dataSource.query<{ id: number; passwordHash: string | null; emailVerified: boolean }[]>(
        'SELECT id, "passwordHash", "emailVerified" FROM "user" WHERE email = $1',
        [email],
      )
    )[0];

  beforeAll(async () => {
    provider = await startProvider();
    flaky = await startProvider();
    t = await createTestApp(AppModule.forRoot, {
      env: {
        PUBLIC_URL: 'https://shop.example',
        OAUTH_PROVIDERS: 'mock,flaky,down,forge',
        OAUTH_MOCK_ISSUER: provider.issuer.url!,
        OAUTH_MOCK_CLIENT_ID: 'nestor-shop',
        OAUTH_MOCK_CLIENT_SECRET: 'mock client secret',
        OAUTH_MOCK_LABEL: 'Mock ID',
        OAUTH_FLAKY_ISSUER: flaky.issuer.url!,
        OAUTH_FLAKY_CLIENT_ID: 'nestor-shop',
        OAUTH_FLAKY_CLIENT_SECRET: 'flaky client secret',
        // Nothing listens on port 9 (discard) of this machine: a provider that is down from the start.
        OAUTH_DOWN_ISSUER: 'http://127.0.0.1:9',
        OAUTH_DOWN_CLIENT_ID: 'nestor-shop',
        OAUTH_DOWN_CLIENT_SECRET: 'down client secret',
        // A plain OAuth 2 provider shaped like GitHub: endpoints named, no discovery; who the user is comes
        // from the user endpoint (`id`) and which address is verified from the emails endpoint.
        OAUTH_FORGE_AUTHORIZATION_URL: `${provider.issuer.url!}/authorize`,
        OAUTH_FORGE_TOKEN_URL: `${provider.issuer.url!}/token`,
        OAUTH_FORGE_USERINFO_URL: `${provider.issuer.url!}/userinfo`,
        OAUTH_FORGE_EMAILS_URL: `${provider.issuer.url!}/user/emails`,
        OAUTH_FORGE_CLIENT_ID: 'nestor-shop',
        OAUTH_FORGE_CLIENT_SECRET: 'forge client secret',
      },
    });
    provider.service.addRoute('GET', '/user/emails', (request, response) => {
      const emails = request.headers.authorization?.startsWith('Bearer ') ? forgeEmails : [];
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(emails));
    });
    dataSource = t.app.get(DataSource);
    t.app.get(SecurityEvents).subscribe((event) => events.push(event));
  });
  afterAll(async () => {
    await t?.close();
    await provider?.stop();
    if (flaky?.listening) {
      await flaky.stop();
    }
  });

  it('lists the configured providers for the login buttons', async () => {
    const res = await t.inject('/api/auth/oauth/providers');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      { name: 'mock', label: 'Mock ID', authorizeUrl: '/api/auth/oauth/mock/authorize' },
      { name: 'flaky', label: 'Flaky', authorizeUrl: '/api/auth/oauth/flaky/authorize' },
      { name: 'down', label: 'Down', authorizeUrl: '/api/auth/oauth/down/authorize' },
      { name: 'forge', label: 'Forge', authorizeUrl: '/api/auth/oauth/forge/authorize' },
    ]);
    problem(await t.inject('/api/auth/oauth/nope/authorize'), 404, 'urn:nestor:problem:not-found');
  });

  it('sends the browser to the provider with PKCE (S256), state and nonce', async () => {
    const { authorizationUrl, callback: url } = await startSignIn();
    const params = authorizationUrl.searchParams;
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(`${provider.issuer.url}/authorize`);
    expect(Object.fromEntries(params)).toMatchObject({
      client_id: 'nestor-shop',
      response_type: 'code',
      redirect_uri: 'https://shop.example/api/auth/oauth/mock/callback',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
    });
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toBe(params.get('state'));
    // The flow is stored server side, keyed by the cookie's hash; the verifier never leaves the server.
    const [flow] = await dataSource.query<{ codeVerifier: string; state: string }[]>(
      'SELECT "codeVerifier", state FROM oauth_flow WHERE state = $1',
      [params.get('state')],
    );
    expect(flow.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorizationUrl.href).not.toContain(flow.codeVerifier);
  });

  it('creates an account for a new verified email, answers Nestor tokens, and signs in the same user again', async () => {
    const person = newPerson();
    const before = await counts();
    const res = await signIn(person);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const pair = res.json<Pair>();
    expect(pair).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });

    const me = await t.inject({
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(me.json()).toMatchObject({ email: 'person1@example.com', emailVerified: true, isStaff: false });
    const user = await userByEmail('person1@example.com');
    expect(user.passwordHash).toBeNull();
    expect(await counts()).toEqual({
      ...before,
      users: before.users + 1,
      identities: before.identities + 1,
      refreshTokens: before.refreshTokens + 1,
    });
    // The refresh token is an ordinary Nestor one: it rotates.
    const rotated = await t.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken: pair.refreshToken },
    });
    expect(rotated.statusCode).toBe(200);

    const identities = await t.inject({
      url: '/api/auth/identities',
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(identities.json()).toEqual([
      {
        id: expect.any(Number),
        provider: 'mock',
        subject: 'person-1',
        email: 'person1@example.com',
        linkedAt: expect.any(String),
      },
    ]);
    const [audit] = await dataSource.query<{ actionName: string }[]>(
      `SELECT "actionName" FROM audit_entry WHERE resource = 'users' AND "recordId" = $1`,
      [String(user.id)],
    );
    expect(audit).toEqual({ actionName: 'identity.linked' });
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'identity.linked', userId: user.id, provider: 'mock', created: true }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'login.succeeded', userId: user.id, via: 'oauth', provider: 'mock' }),
    );

    // The provider's subject, not the email, names the user: a changed address still signs in the same one.
    const again = await signIn({ ...person, email: 'renamed@example.com' });
    expect(again.statusCode).toBe(200);
    const meAgain = await t.inject({
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${again.json<Pair>().accessToken}` },
    });
    expect(meAgain.json()).toMatchObject({ id: user.id });
    expect(await userByEmail('renamed@example.com')).toBeUndefined();

    // Its only way to sign in: unlinking is refused.
    const unlink = await t.inject({
      method: 'DELETE',
      url: `/api/auth/identities/${identities.json<{ id: number }[]>()[0].id}`,
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    problem(unlink, 409, OAUTH_PROBLEMS.lastSignInMethod);
    expect(await count('user_identity')).toBe(before.identities + 1);
  });

  it('links an existing account only by a verified email; its owner can unlink it', async () => {
    const owner = await t.createUser({ email: 'grace@example.com' });
    const before = await counts();
    const res = await signIn(newPerson({ email: 'GRACE@example.com' }));
    expect(res.statusCode).toBe(200);
    const me = await t.inject({
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${res.json<Pair>().accessToken}` },
    });
    expect(me.json()).toMatchObject({ id: owner.id, email: 'grace@example.com' });
    expect((await counts()).users).toBe(before.users);

    const list = await t.actingAs(owner).inject('/api/auth/identities');
    const [identity] = list.json<{ id: number }[]>();
    // Someone else's identity is a 404, and an API key may not unlink.
    const stranger = await t.createUser();
    problem(
      await t.actingAs(stranger).inject({ method: 'DELETE', url: `/api/auth/identities/${identity.id}` }),
      404,
      'urn:nestor:problem:not-found',
    );
    const key = await t.createApiKey(owner, []);
    expect(
      (await t.withApiKey(key).inject({ method: 'DELETE', url: `/api/auth/identities/${identity.id}` }))
        .statusCode,
    ).toBe(403);
    // The owner has a password, so the identity is not their last way in.
    const unlinked = await t
      .actingAs(owner)
      .inject({ method: 'DELETE', url: `/api/auth/identities/${identity.id}` });
    expect(unlinked.statusCode).toBe(204);
    expect((await t.actingAs(owner).inject('/api/auth/identities')).json()).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'identity.unlinked', userId: owner.id, identityId: identity.id }),
    );
  });

  it('unverified email: links nothing, creates nothing, and says why', async () => {
    await t.createUser({ email: 'victim@example.com' });
    const before = await counts();
    const res = await signIn(newPerson({ email: 'victim@example.com', email_verified: false }));
    expect(problem(res, 403, OAUTH_PROBLEMS.emailUnverified).detail).toContain('victim@example.com');
    // No address in the ID token: the userinfo endpoint is asked (its `sub` must match), and has none either.
    const anonymous = newPerson({ email: undefined, email_verified: undefined });
    provider.service.once(Events.BeforeUserinfo, (response: MutableResponse) => {
      response.body = { sub: anonymous.sub };
    });
    const missing = await signIn(anonymous);
    problem(missing, 403, OAUTH_PROBLEMS.emailUnverified);
    expect(await counts()).toEqual(before);
  });

  it('a plain OAuth 2 provider (GitHub-like): the user id and the verified address from its endpoints', async () => {
    const before = await counts();
    const forgeUser = () =>
      provider.service.once(Events.BeforeUserinfo, (response: MutableResponse) => {
        response.body = { id: 4242, login: 'octo' };
      });
    const start = async () => {
      const { cookie, callback: url, authorizationUrl } = await startSignIn('forge');
      expect(authorizationUrl.searchParams.get('scope')).toBe('email');
      expect(authorizationUrl.searchParams.get('nonce')).toBeNull();
      expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
      return callback(url, cookie);
    };
    // Only an unverified address: nothing is created.
    forgeEmails = [{ email: 'octo@example.com', primary: true, verified: false }];
    forgeUser();
    problem(await start(), 403, OAUTH_PROBLEMS.emailUnverified);
    expect(await counts()).toEqual(before);

    // The verified one wins over an unverified primary.
    forgeEmails = [
      { email: 'octo-old@example.com', primary: true, verified: false },
      { email: 'Octo@Example.com', primary: false, verified: true },
    ];
    forgeUser();
    const res = await start();
    expect(res.statusCode).toBe(200);
    const user = await userByEmail('octo@example.com');
    const [identity] = await dataSource.query<{ provider: string; subject: string }[]>(
      'SELECT provider, subject FROM user_identity WHERE "userId" = $1',
      [user.id],
    );
    expect(identity).toEqual({ provider: 'forge', subject: '4242' });
  });

  it('wrong state: refused, and the flow is spent; no cookie (login CSRF): refused', async () => {
    const before = await counts();
    const { cookie, callback: url } = await startSignIn();
    const forged = new URL(url);
    forged.searchParams.set('state', 'attacker-chosen-state');
    const res = await callback(forged, cookie);
    expect(problem(res, 400, OAUTH_PROBLEMS.stateInvalid).detail).toContain('state');
    // The genuine answer can no longer be used either: each flow gets one callback.
    problem(await callback(url, cookie), 400, OAUTH_PROBLEMS.stateInvalid);

    // An attacker's callback URL opened in a victim's browser (no flow cookie there).
    const attackers = await startSignIn();
    problem(await callback(attackers.callback, undefined), 400, OAUTH_PROBLEMS.stateInvalid);
    problem(await callback(attackers.callback, 'a-cookie-of-nothing'), 400, OAUTH_PROBLEMS.stateInvalid);
    expect(await counts()).toEqual(before);
  });

  it('replayed code: the same callback twice, or the code of one flow in another, is refused', async () => {
    const person = newPerson();
    as(person);
    const first = await startSignIn();
    expect((await callback(first.callback, first.cookie)).statusCode).toBe(200);
    const before = await counts();
    problem(await callback(first.callback, first.cookie), 400, OAUTH_PROBLEMS.stateInvalid);

    // A fresh flow with the used code spliced in: our state check passes, the provider refuses the code.
    const second = await startSignIn();
    const spliced = new URL(second.callback);
    spliced.searchParams.set('code', first.callback.searchParams.get('code')!);
    const res = await callback(spliced, second.cookie);
    expect(problem(res, 400, OAUTH_PROBLEMS.codeRejected).detail).toContain('refused the authorization code');
    expect(await counts()).toEqual(before);
  });

  it.each([
    [
      'wrong audience',
      (token: MutableToken) => Object.assign(token.payload, { aud: 'another-client' }),
      /"aud" \(audience\)/,
    ],
    [
      'expired ID token',
      (token: MutableToken) => {
        const now = Math.floor(Date.now() / 1000);
        Object.assign(token.payload, { iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
      },
      /"exp" \(expiration time\)/,
    ],
    [
      'wrong nonce',
      (token: MutableToken) => Object.assign(token.payload, { nonce: 'a-nonce-of-another-flow' }),
      /"nonce"/,
    ],
    [
      'wrong issuer',
      (token: MutableToken) => Object.assign(token.payload, { iss: 'https://evil.example' }),
      /"iss" \(issuer\)/,
    ],
  ])('%s: 401, nothing created', async (_case, edit, reason) => {
    const before = await counts();
    nextIdToken(provider, (token) => {
      Object.assign(token.payload, newPerson());
      edit(token);
    });
    const { cookie, callback: url } = await startSignIn();
    const res = await callback(url, cookie);
    expect(problem(res, 401, OAUTH_PROBLEMS.tokenInvalid).detail).toMatch(reason);
    expect(await counts()).toEqual(before);
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'login.failed', via: 'oauth', reason: OAUTH_PROBLEMS.tokenInvalid }),
    );
  });

  it('wrongly signed ID token (same kid, another key; claims of an existing account): 401, nothing linked', async () => {
    const target = await t.createUser({ email: 'target@example.com', isStaff: true });
    const before = await counts();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    provider.service.once(Events.BeforeResponse, (response: MutableResponse) => {
      const body = response.body as { id_token: string };
      const [header, payload] = body.id_token
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as object);
      const forged = `${base64url(header)}.${base64url({ ...payload, sub: 'forger', email: target.email, email_verified: true })}`;
      body.id_token = `${forged}.${sign('sha256', Buffer.from(forged), privateKey).toString('base64url')}`;
    });
    const { cookie, callback: url } = await startSignIn();
    const res = await callback(url, cookie);
    expect(problem(res, 401, OAUTH_PROBLEMS.tokenInvalid).detail).toContain('signature');
    expect(await counts()).toEqual(before);
  });

  it('provider down: 503 with a clear problem, and nothing created', async () => {
    const before = await counts();
    const flowsBefore = await count('oauth_flow');
    const atStart = await t.inject('/api/auth/oauth/down/authorize');
    expect(problem(atStart, 503, OAUTH_PROBLEMS.providerDown).detail).toMatch(/"down".*discovery failed/);
    expect(atStart.headers['retry-after']).toBe('30');
    expect(await count('oauth_flow')).toBe(flowsBefore);

    // Down between the authorization and the callback: the token endpoint cannot be reached.
    as(newPerson(), flaky);
    const { cookie, callback: url } = await startSignIn('flaky');
    await flaky.stop();
    const res = await callback(url, cookie);
    expect(problem(res, 503, OAUTH_PROBLEMS.providerDown).detail).toMatch(/"flaky".*ECONNREFUSED/);
    expect(await counts()).toEqual(before);
  });

  describe('the admin', () => {
    /** The last word on the session cookie (a refused sign-in sets it, then clears it). */
    const sessionCookie = (res: LightMyRequestResponse) =>
      res.cookies.filter((c) => c.name === 'nestor_session').at(-1);

    it('staff: an admin session, and back into the admin', async () => {
      const staff = await t.createUser({ email: 'staff@example.com', isStaff: true });
      const res = await signIn(newPerson({ email: 'staff@example.com' }), 'admin');
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/admin/');
      const session = sessionCookie(res)!;
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      const current = await t.inject({
        url: '/admin/api/session',
        headers: { authorization: undefined },
        cookies: { nestor_session: session.value },
      });
      expect(current.statusCode).toBe(200);
      expect(current.json()).toMatchObject({ user: { id: staff.id, isStaff: true } });
      expect(events).toContainEqual(
        expect.objectContaining({
          event: 'login.succeeded',
          userId: staff.id,
          via: 'admin',
          provider: 'mock',
        }),
      );
    });

    it('non-staff: refused, no session left, back to the login page with the reason', async () => {
      const customer = await t.createUser({ email: 'customer@example.com' });
      const before = await counts();
      const res = await signIn(newPerson({ email: 'customer@example.com' }), 'admin');
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/admin/login?oauth_error=oauth-sign-in-refused');
      expect(sessionCookie(res)).toBeUndefined();
      expect((await counts()).sessions).toBe(before.sessions);
      expect(events).toContainEqual(
        expect.objectContaining({ event: 'login.refused', userId: customer.id, reason: 'not-staff' }),
      );
      // Errors of the provider return to the login page the same way.
      const unverified = await signIn(newPerson({ email_verified: false }), 'admin');
      expect(unverified.headers.location).toBe('/admin/login?oauth_error=oauth-email-unverified');
    });
  });
});
