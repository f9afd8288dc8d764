import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import * as oidc from 'openid-client';
import { DataSource, EntityManager } from 'typeorm';
import { AccountService } from 'src/framework/auth/account.service';
import type { Principal } from 'src/framework/access/principal';
import { normalizeEmail } from 'src/framework/auth/auth.service';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { sha256 } from 'src/framework/auth/token.service';
import { NestorConfig } from 'src/framework/config/nestor-config';
import type { OAuthProviderConfig } from 'src/framework/config/oauth-providers';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';

/** The `type` of each problem an OAuth sign-in can answer (the README lists them with their statuses). */
export const OAUTH_PROBLEMS = {
  /** 400: no flow for this browser (no cookie, expired, already used) or `state` is not the flow's. */
  stateInvalid: 'urn:nestor:problem:oauth-state-invalid',
  /** 400: the provider refused the authorization code (used twice, expired, issued to another flow). */
  codeRejected: 'urn:nestor:problem:oauth-code-rejected',
  /** 401: the provider answered with an error instead of a code (the user declined, …). */
  denied: 'urn:nestor:problem:oauth-denied',
  /** 401: the ID token or token response failed a check (signature, issuer, audience, expiry, nonce). */
  tokenInvalid: 'urn:nestor:problem:oauth-token-invalid',
  /** 403: the provider did not vouch for the email address: no account is linked or created by it. */
  emailUnverified: 'urn:nestor:problem:oauth-email-unverified',
  /** 403: the account exists but may not sign in this way (inactive, 2FA on, not staff for the admin). */
  refused: 'urn:nestor:problem:oauth-sign-in-refused',
  /** 403: no account has this address and AUTH_REGISTRATION=false. */
  registrationClosed: 'urn:nestor:problem:registration-closed',
  /** 409: unlinking would leave the account without any way to sign in. */
  lastSignInMethod: 'urn:nestor:problem:last-sign-in-method',
  /** 503: the provider could not be reached or answered nonsense; nothing was created. */
  providerDown: 'urn:nestor:problem:oauth-provider-unavailable',
} as const;

/** How long a started sign-in may take at the provider. */
export const OAUTH_FLOW_TTL_SECONDS = 600;

/** An identity as `GET /api/auth/identities` lists it. */
export interface LinkedIdentity {
  id: number;
  provider: string;
  subject: string;
  email: string | null;
  linkedAt: Date;
}

/** What the provider vouches for. */
interface ProviderProfile {
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
}

/** A started sign-in: where to send the browser, and the cookie that binds the flow to it. */
export interface StartedFlow {
  authorizationUrl: URL;
  flowCookie: string;
}

/** A sign-in taken from `oauth_flow` by its callback. */
export interface OAuthFlowState {
  provider: string;
  mode: 'api' | 'admin';
  state: string;
  nonce: string | null;
  codeVerifier: string;
  live: boolean;
}

function problem(type: string, title: string, status: number, detail: string): ProblemException {
  return new ProblemException({ type, title, status, detail });
}

function providerDown(provider: string, why: string): ProblemException {
  return new ProblemException(
    {
      type: OAUTH_PROBLEMS.providerDown,
      title: 'Sign-in provider unavailable',
      status: 503,
      detail: `The sign-in provider "${provider}" could not be used: ${why}. Nothing was changed; retry shortly.`,
    },
    { 'retry-after': '30' },
  );
}

/** The innermost message: `connect ECONNREFUSED 127.0.0.1:9` rather than `fetch failed`. */
function rootCause(error: unknown): string {
  let current = error as Error;
  while (typeof (current.cause as Error | undefined)?.message === 'string') {
    current = current.cause as Error;
  }
  return current.message;
}

function sameText(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Maps what openid-client throws to a problem. Network failures, timeouts and 5xx answers are the provider
 * being down (503); an error in the token endpoint's body is a refused code (400); every failed check of
 * what the provider sent (signature, `iss`, `aud`, `exp`, `nonce`) is an invalid token (401).
 */
function providerProblem(provider: string, error: unknown): ProblemException {
  if (error instanceof ProblemException) {
    return error;
  }
  if (error instanceof oidc.AuthorizationResponseError) {
    return problem(
      OAUTH_PROBLEMS.denied,
      'Sign-in declined',
      401,
      `The provider "${provider}" answered ${error.error}${error.error_description ? ` (${error.error_description})` : ''} instead of a code.`,
    );
  }
  const code = (error as oidc.ClientError).code;
  // A token endpoint's answer: an OAuth error body, or (some servers) another status and content type.
  const status =
    error instanceof oidc.ResponseBodyError
      ? error.status
      : code === 'OAUTH_RESPONSE_IS_NOT_JSON' || code === 'OAUTH_RESPONSE_IS_NOT_CONFORM'
        ? ((error as Error).cause as Response | undefined)?.status
        : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    const why = error instanceof oidc.ResponseBodyError ? error.error : `HTTP ${status}`;
    return problem(
      OAUTH_PROBLEMS.codeRejected,
      'Authorization code rejected',
      400,
      `The provider "${provider}" refused the authorization code (${why}): it was already used, ` +
        'has expired or belongs to another sign-in. Start again.',
    );
  }
  if (
    status !== undefined ||
    // fetch's TypeError (connection refused, DNS, TLS); openid-client wraps one it does not recognise as
    // its own realm's TypeError (under Jest's sandbox) in a ClientError.
    (error as Error).name === 'TypeError' ||
    ((error as Error).cause as Error | undefined)?.name === 'TypeError' ||
    code === 'OAUTH_TIMEOUT' ||
    code === 'OAUTH_ABORT'
  ) {
    const why = status === undefined ? rootCause(error) : `it answered HTTP ${status}`;
    return providerDown(provider, why);
  }
  // The check that failed, in the words of oauth4webapi (e.g. 'unexpected JWT "aud" (audience) claim value').
  const reason = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
  return problem(
    OAUTH_PROBLEMS.tokenInvalid,
    'Provider answer rejected',
    401,
    `The answer of the provider "${provider}" failed validation: ${reason}.`,
  );
}

/**
 * Sign-in with OAuth 2 / OpenID Connect providers (openid-client): Authorization Code with PKCE, `state`
 * and (OIDC) `nonce`, kept in `oauth_flow` and bound to the browser by a cookie. A callback signs in the
 * user linked to the provider's subject, else links the account with the same VERIFIED email, else
 * creates one. Example: `const { authorizationUrl } = await oauth.start('google', 'api')`.
 */
@Injectable()
export class OAuthService {
  private readonly logger = new Logger('OAuth');
  /** Discovery runs at first use (a provider that is down does not stop the boot), then is kept. */
  private readonly configurations = new Map<string, Promise<oidc.Configuration>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: NestorConfig,
    private readonly accounts: AccountService,
    private readonly events: SecurityEvents,
  ) {}

  /** The configured providers, in OAUTH_PROVIDERS order. */
  providers(): readonly OAuthProviderConfig[] {
    return this.config.oauthProviders;
  }

  /** The URL to register at the provider as the redirect (callback) URI. */
  redirectUri(provider: string): string {
    return `${this.config.publicUrl}/api/auth/oauth/${provider}/callback`;
  }

  /** The provider called `name`, or a 404 naming those that exist. */
  provider(name: string): OAuthProviderConfig {
    const found = this.config.oauthProviders.find((provider) => provider.name === name);
    if (!found) {
      const known = this.config.oauthProviders.map((provider) => provider.name).join(', ') || 'none';
      throw problem(
        PROBLEM_TYPES.notFound,
        'Not Found',
        404,
        `No OAuth provider "${name}" (configured: ${known}).`,
      );
    }
    return found;
  }

  /** Records a new flow and builds the provider's authorization URL (PKCE S256, state, nonce). */
  async start(name: string, mode: 'api' | 'admin'): Promise<StartedFlow> {
    const provider = this.provider(name);
    const configuration = await this.configuration(provider);
    const flowCookie = randomBytes(32).toString('base64url');
    const state = oidc.randomState();
    const nonce = provider.kind === 'oidc' ? oidc.randomNonce() : null;
    const codeVerifier = oidc.randomPKCECodeVerifier();
    // Expired flows are swept as new ones start, like admin sessions at logout.
    await this.dataSource.query(
      `WITH swept AS (DELETE FROM oauth_flow WHERE "expiresAt" < now())
       INSERT INTO oauth_flow ("idHash", provider, mode, state, nonce, "codeVerifier", "expiresAt")
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
      [sha256(flowCookie), name, mode, state, nonce, codeVerifier, OAUTH_FLOW_TTL_SECONDS],
    );
    const authorizationUrl = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.redirectUri(name),
      scope: provider.scopes.join(' '),
      state,
      ...(nonce ? { nonce } : {}),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { authorizationUrl, flowCookie };
  }

  /**
   * Spends the browser's flow (whatever happens next, so a callback works once) and checks that `state`
   * is the flow's. `query` is the callback's query string as received.
   */
  async takeFlow(
    name: string,
    flowCookie: string | undefined,
    query: string,
    request: FastifyRequest,
  ): Promise<OAuthFlowState> {
    this.provider(name);
    const flow = await this.spendFlow(flowCookie);
    const state = new URLSearchParams(query).get('state');
    if (!flow || !flow.live || flow.provider !== name || !state || !sameText(state, flow.state)) {
      const reason = !flow ? 'no-flow' : !flow.live ? 'expired' : 'state-mismatch';
      this.events.record('login.failed', { via: 'oauth', provider: name, reason }, request);
      throw problem(
        OAUTH_PROBLEMS.stateInvalid,
        'Sign-in could not be matched',
        400,
        !flow
          ? 'No sign-in is in progress in this browser (it was already completed, or never started here). ' +
              `Start again at /api/auth/oauth/${name}/authorize.`
          : !flow.live
            ? `The sign-in took longer than ${OAUTH_FLOW_TTL_SECONDS / 60} minutes. Start again.`
            : 'The state parameter does not belong to the sign-in this browser started. Start again.',
      );
    }
    return flow;
  }

  /**
   * Exchanges the code of a taken flow (openid-client checks PKCE, the ID token and its nonce) and signs in,
   * links or creates the user. Nothing is written when the provider fails or a check does not pass.
   */
  async complete(
    flow: OAuthFlowState,
    query: string,
    request: FastifyRequest,
  ): Promise<{ userId: number; email: string }> {
    const provider = this.provider(flow.provider);
    let profile: ProviderProfile;
    try {
      profile = await this.exchange(provider, flow, query);
    } catch (error) {
      const answer = providerProblem(provider.name, error);
      if (answer.getStatus() === 503) {
        this.logger.warn(`Provider ${provider.name}: ${(error as Error).message}`);
      }
      this.events.record(
        'login.failed',
        { via: 'oauth', provider: provider.name, reason: String(answer.problem.type) },
        request,
      );
      throw answer;
    }
    return this.dataSource.transaction((manager) => this.resolveUser(manager, provider, profile, request));
  }

  /** Atomically takes the flow of this cookie out of the table. */
  private async spendFlow(flowCookie: string | undefined): Promise<OAuthFlowState | undefined> {
    if (!flowCookie) {
      return undefined;
    }
    // Through a CTE: pg answers a bare DELETE … RETURNING with [rows, rowCount], not with the rows.
    const [flow] = await this.dataSource.query<OAuthFlowState[]>(
      `WITH spent AS (DELETE FROM oauth_flow WHERE "idHash" = $1
         RETURNING provider, mode, state, nonce, "codeVerifier", "expiresAt" > now() AS live)
       SELECT * FROM spent`,
      [sha256(flowCookie)],
    );
    return flow;
  }

  /** The code for tokens (openid-client checks state, PKCE, the ID token and nonce), then the profile. */
  private async exchange(
    provider: OAuthProviderConfig,
    flow: OAuthFlowState,
    query: string,
  ): Promise<ProviderProfile> {
    const configuration = await this.configuration(provider);
    // redirect_uri is taken from this URL: the registered one, whatever Host the request came through.
    const currentUrl = new URL(this.redirectUri(provider.name));
    currentUrl.search = query;
    const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
      pkceCodeVerifier: flow.codeVerifier,
      expectedState: flow.state,
      ...(flow.nonce ? { expectedNonce: flow.nonce, idTokenExpected: true } : {}),
    });
    if (provider.kind === 'oidc') {
      const claims = tokens.claims()!;
      let { email, email_verified: verified } = claims;
      if (typeof email !== 'string' && configuration.serverMetadata().userinfo_endpoint) {
        // Some providers put the address only in userinfo; its `sub` must be the ID token's.
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
        ({ email, email_verified: verified } = info);
      }
      return {
        subject: claims.sub,
        email: typeof email === 'string' ? email : undefined,
        emailVerified: verified === true,
      };
    }
    return this.oauth2Profile(provider, configuration, tokens.access_token);
  }

  /** Plain OAuth 2 (GitHub): the user endpoint says who, the emails endpoint which addresses are verified. */
  private async oauth2Profile(
    provider: OAuthProviderConfig,
    configuration: oidc.Configuration,
    accessToken: string,
  ): Promise<ProviderProfile> {
    const endpoints = provider.endpoints!;
    const get = async <T>(url: string): Promise<T> => {
      const response = await oidc.fetchProtectedResource(
        configuration,
        accessToken,
        new URL(url),
        'GET',
        null,
        new Headers({ accept: 'application/json', 'user-agent': 'nestor' }),
      );
      if (!response.ok) {
        throw providerDown(provider.name, `${url} answered ${response.status}`);
      }
      return (await response.json()) as T;
    };
    const user = await get<{ sub?: string; id?: string | number; email?: string; email_verified?: boolean }>(
      endpoints.userinfo,
    );
    const subject = user.sub ?? (user.id === undefined ? undefined : String(user.id));
    if (!subject) {
      throw providerDown(provider.name, `${endpoints.userinfo} named no user (no sub or id)`);
    }
    if (endpoints.emails) {
      const emails = await get<{ email: string; primary?: boolean; verified?: boolean }[]>(endpoints.emails);
      const verified = emails.filter((entry) => entry.verified === true);
      const chosen = verified.find((entry) => entry.primary) ?? verified[0] ?? emails[0];
      return { subject, email: chosen?.email, emailVerified: chosen?.verified === true };
    }
    return { subject, email: user.email, emailVerified: user.email_verified === true };
  }

  /**
   * The user of a linked identity; else the account with the same verified email, linked now; else a new
   * account (no password, email verified by the provider). Unverified addresses link and create nothing.
   */
  private async resolveUser(
    manager: EntityManager,
    provider: OAuthProviderConfig,
    profile: ProviderProfile,
    request: FastifyRequest,
  ): Promise<{ userId: number; email: string }> {
    const [linked] = await manager.query<{ userId: number }[]>(
      'SELECT "userId" FROM user_identity WHERE provider = $1 AND subject = $2',
      [provider.name, profile.subject],
    );
    let userId = linked?.userId;
    if (userId === undefined) {
      const email = profile.email && normalizeEmail(profile.email);
      if (!email || !profile.emailVerified) {
        throw this.refuse(
          request,
          { provider: provider.name, reason: 'email-unverified' },
          OAUTH_PROBLEMS.emailUnverified,
          'Email address not verified',
          `The provider "${provider.name}" did not confirm ${email ? `the address ${email}` : 'an email address'} ` +
            'as verified, so it can neither sign in to nor create an account. Verify it at the provider, or ' +
            'sign in with your password.',
        );
      }
      userId = await this.linkOrCreate(manager, provider, profile.subject, email, request);
    }
    const [user] = await manager.query<{ email: string; isActive: boolean; totpEnabled: boolean }[]>(
      'SELECT email, "isActive", "totpEnabled" FROM "user" WHERE id = $1',
      [userId],
    );
    if (!user.isActive || user.totpEnabled) {
      const reason = user.isActive ? '2fa-enabled' : 'inactive';
      throw this.refuse(
        request,
        { userId, provider: provider.name, reason },
        OAUTH_PROBLEMS.refused,
        'Sign-in refused',
        user.isActive
          ? 'This account has two-factor authentication: sign in with its password and code, so the second factor is not skipped.'
          : 'This account is disabled.',
      );
    }
    await manager.query('UPDATE "user" SET "lastLogin" = now() WHERE id = $1', [userId]);
    return { userId, email: user.email };
  }

  /** A sign-in refused for `reason`: logged as `login.refused`, answered as a 403 of `type`. */
  private refuse(
    request: FastifyRequest,
    fields: { provider: string; reason: string; userId?: number },
    type: string,
    title: string,
    detail: string,
  ): ProblemException {
    this.events.record('login.refused', { via: 'oauth', ...fields }, request);
    return problem(type, title, 403, detail);
  }

  private async linkOrCreate(
    manager: EntityManager,
    provider: OAuthProviderConfig,
    subject: string,
    email: string,
    request: FastifyRequest,
  ): Promise<number> {
    let [existing] = await manager.query<{ id: number }[]>('SELECT id FROM "user" WHERE email = $1', [email]);
    let created = false;
    if (!existing) {
      if (!this.config.registrationOpen) {
        throw this.refuse(
          request,
          { provider: provider.name, reason: 'registration-closed' },
          OAUTH_PROBLEMS.registrationClosed,
          'Registration closed',
          `No account has the address ${email}, and new accounts are not open (AUTH_REGISTRATION=false).`,
        );
      }
      // Privileges are literals; no password: this account signs in through its provider until it sets one.
      [existing] = await manager.query<{ id: number }[]>(
        `INSERT INTO "user" (email, "passwordHash", "isActive", "isStaff", "isSuperuser", "emailVerified")
         VALUES ($1, NULL, true, false, false, true) RETURNING id`,
        [email],
      );
      created = true;
    }
    const [identity] = await manager.query<{ id: number }[]>(
      'INSERT INTO user_identity ("userId", provider, subject, email) VALUES ($1, $2, $3, $4) RETURNING id',
      [existing.id, provider.name, subject, email],
    );
    await this.accounts.recordAccountChange(
      manager,
      'identity.linked',
      existing.id,
      undefined,
      { provider: provider.name, identityId: identity.id, created },
      request,
    );
    return existing.id;
  }

  /** The identities linked to a user, oldest first. */
  async identities(userId: number): Promise<LinkedIdentity[]> {
    return this.dataSource.query<LinkedIdentity[]>(
      'SELECT id, provider, subject, email, "linkedAt" FROM user_identity WHERE "userId" = $1 ORDER BY id',
      [userId],
    );
  }

  /**
   * Unlinks one of the caller's identities: a 404 for anyone else's, a 409 when it is the account's last
   * way to sign in (no password and no other identity). The user row is locked, so two parallel unlinks
   * cannot both pass that check.
   */
  async unlink(principal: Principal, identityId: number, request: FastifyRequest): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const [user] = await manager.query<{ hasPassword: boolean }[]>(
        'SELECT "passwordHash" IS NOT NULL AS "hasPassword" FROM "user" WHERE id = $1 FOR UPDATE',
        [principal.userId],
      );
      const identities = await manager.query<{ id: number; provider: string }[]>(
        'SELECT id, provider FROM user_identity WHERE "userId" = $1',
        [principal.userId],
      );
      const identity = identities.find((row) => row.id === identityId);
      if (!identity) {
        throw problem(PROBLEM_TYPES.notFound, 'Not Found', 404, `You have no linked identity ${identityId}.`);
      }
      if (!user.hasPassword && identities.length === 1) {
        throw problem(
          OAUTH_PROBLEMS.lastSignInMethod,
          'Last way to sign in',
          409,
          'This identity is the only way to sign in to your account: set a password first ' +
            '(POST /api/auth/password/forgot mails a reset token), then unlink it.',
        );
      }
      await manager.query('DELETE FROM user_identity WHERE id = $1', [identityId]);
      await this.accounts.recordAccountChange(
        manager,
        'identity.unlinked',
        principal.userId,
        principal,
        { provider: identity.provider, identityId },
        request,
      );
    });
  }

  /** The provider's openid-client configuration: discovered once, or built from its endpoints. */
  private configuration(provider: OAuthProviderConfig): Promise<oidc.Configuration> {
    let configuration = this.configurations.get(provider.name);
    if (!configuration) {
      configuration = this.createConfiguration(provider);
      this.configurations.set(provider.name, configuration);
      // A failed discovery is retried by the next sign-in, not remembered.
      configuration.catch(() => this.configurations.delete(provider.name));
    }
    return configuration.catch((error: unknown) => {
      throw providerDown(provider.name, `discovery failed (${rootCause(error)})`);
    });
  }

  private async createConfiguration(provider: OAuthProviderConfig): Promise<oidc.Configuration> {
    const insecure = (url: string): boolean => url.startsWith('http:'); // loopback only (load-config)
    if (provider.kind === 'oidc') {
      const server = provider.issuer ?? provider.discoveryUrl!;
      return oidc.discovery(new URL(server), provider.clientId, provider.clientSecret, undefined, {
        timeout: 10,
        // ID tokens from the token endpoint have their signature checked against the JWKS too: TLS alone
        // is what the spec asks for, the signature is defence in depth (a proxy, a poisoned DNS entry).
        execute: [oidc.enableNonRepudiationChecks, ...(insecure(server) ? [oidc.allowInsecureRequests] : [])],
      });
    }
    const endpoints = provider.endpoints!;
    const configuration = new oidc.Configuration(
      {
        issuer: new URL(endpoints.authorization).origin,
        authorization_endpoint: endpoints.authorization,
        token_endpoint: endpoints.token,
      },
      provider.clientId,
      provider.clientSecret,
    );
    configuration.timeout = 10;
    if (insecure(endpoints.token)) {
      oidc.allowInsecureRequests(configuration);
    }
    return configuration;
  }
}
