import * as oidc from 'openid-client';
import { NestorConfig } from 'src/framework/config/nestor-config';
import type { OAuthProviderConfig } from 'src/framework/config/oauth-providers';
import { ProblemException } from 'src/framework/http/problem';

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

/**
 * A problem+json answer of an OAuth sign-in.
 * Example: `oauthProblem(OAUTH_PROBLEMS.denied, 'Sign-in declined', 401, '…')`.
 */
export function oauthProblem(type: string, title: string, status: number, detail: string): ProblemException {
  return new ProblemException({ type, title, status, detail });
}

/** What the provider vouches for. */
export interface ProviderProfile {
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
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

/**
 * Maps what openid-client throws to a problem. Network failures, timeouts and 5xx answers are the provider
 * being down (503); an error in the token endpoint's body is a refused code (400); every failed check of
 * what the provider sent (signature, `iss`, `aud`, `exp`, `nonce`) is an invalid token (401).
 * Example: `throw providerProblem('google', error)`.
 */
export function providerProblem(provider: string, error: unknown): ProblemException {
  if (error instanceof ProblemException) {
    return error;
  }
  if (error instanceof oidc.AuthorizationResponseError) {
    return oauthProblem(
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
    return oauthProblem(
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
  return oauthProblem(
    OAUTH_PROBLEMS.tokenInvalid,
    'Provider answer rejected',
    401,
    `The answer of the provider "${provider}" failed validation: ${reason}.`,
  );
}

/**
 * The openid-client side of a sign-in: the provider's configuration (discovered once, or built from its
 * endpoints), the code exchange and the profile. Example:
 * `const profile = await new OAuthProviderClient(config).exchange(provider, flow, query)`.
 */
export class OAuthProviderClient {
  /** Discovery runs at first use (a provider that is down does not stop the boot), then is kept. */
  private readonly configurations = new Map<string, Promise<oidc.Configuration>>();

  constructor(private readonly config: NestorConfig) {}

  /** The URL to register at the provider as the redirect (callback) URI. */
  redirectUri(provider: string): string {
    return `${this.config.publicUrl}/api/auth/oauth/${provider}/callback`;
  }

  /** The code for tokens (openid-client checks state, PKCE, the ID token and nonce), then the profile. */
  async exchange(
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

  /** The provider's openid-client configuration: discovered once, or built from its endpoints. */
  configuration(provider: OAuthProviderConfig): Promise<oidc.Configuration> {
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
