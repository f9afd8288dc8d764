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
import {
  OAUTH_PROBLEMS,
  OAuthProviderClient,
  oauthProblem,
  providerProblem,
  type OAuthFlowState,
  type ProviderProfile,
} from 'src/framework/auth/oauth-client';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';

export { OAUTH_PROBLEMS, type OAuthFlowState } from 'src/framework/auth/oauth-client';

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

/** A started sign-in: where to send the browser, and the cookie that binds the flow to it. */
export interface StartedFlow {
  authorizationUrl: URL;
  flowCookie: string;
}

function sameText(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
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
  /** The openid-client side: discovery, code exchange, profile. */
  private readonly client: OAuthProviderClient;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: NestorConfig,
    private readonly accounts: AccountService,
    private readonly events: SecurityEvents,
  ) {
    this.client = new OAuthProviderClient(config);
  }

  /** The configured providers, in OAUTH_PROVIDERS order. */
  providers(): readonly OAuthProviderConfig[] {
    return this.config.oauthProviders;
  }

  /** The URL to register at the provider as the redirect (callback) URI. */
  redirectUri(provider: string): string {
    return this.client.redirectUri(provider);
  }

  /** The provider called `name`, or a 404 naming those that exist. */
  provider(name: string): OAuthProviderConfig {
    const found = this.config.oauthProviders.find((provider) => provider.name === name);
    if (!found) {
      const known = this.config.oauthProviders.map((provider) => provider.name).join(', ') || 'none';
      throw oauthProblem(
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
    const configuration = await this.client.configuration(provider);
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
      throw oauthProblem(
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
      profile = await this.client.exchange(provider, flow, query);
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
    return oauthProblem(type, title, 403, detail);
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
        throw oauthProblem(
          PROBLEM_TYPES.notFound,
          'Not Found',
          404,
          `You have no linked identity ${identityId}.`,
        );
      }
      if (!user.hasPassword && identities.length === 1) {
        throw oauthProblem(
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
}
