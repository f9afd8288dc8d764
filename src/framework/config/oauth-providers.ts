/**
 * One "Sign in with …" provider (OAUTH_PROVIDERS and its OAUTH_<NAME>_* variables, see the README).
 * `oidc` providers are found by discovery (an issuer, or the URL of a discovery document); `oauth2`
 * providers (GitHub) name their endpoints and say who the user is through a userinfo call.
 */
export interface OAuthProviderConfig {
  /** Lower-case name, as in OAUTH_PROVIDERS and the URLs: `/api/auth/oauth/<name>/authorize`. */
  readonly name: string;
  /** Shown on the admin login button: "Sign in with <label>". */
  readonly label: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
  readonly kind: 'oidc' | 'oauth2';
  /** OIDC: the issuer (discovery at `<issuer>/.well-known/openid-configuration`, issuer checked). */
  readonly issuer?: string;
  /** OIDC: the discovery document's own URL, for providers whose document lives elsewhere. */
  readonly discoveryUrl?: string;
  /** OAuth 2: the endpoints; `emails` lists the account's addresses with their verified flag (GitHub). */
  readonly endpoints?: {
    readonly authorization: string;
    readonly token: string;
    readonly userinfo: string;
    readonly emails?: string;
  };
}

interface Preset {
  label: string;
  issuer?: string;
  scopes: string;
  endpoints?: OAuthProviderConfig['endpoints'];
}

/** Providers whose endpoints Nestor knows: only the client id and secret are needed. */
const PRESETS: Record<string, Preset> = {
  google: { label: 'Google', issuer: 'https://accounts.google.com', scopes: 'openid email profile' },
  github: {
    label: 'GitHub',
    scopes: 'read:user user:email',
    endpoints: {
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      userinfo: 'https://api.github.com/user',
      emails: 'https://api.github.com/user/emails',
    },
  },
};

const NAME = /^[a-z][a-z0-9]{0,39}$/;
const SUFFIXES = [
  'ISSUER',
  'DISCOVERY_URL',
  'AUTHORIZATION_URL',
  'TOKEN_URL',
  'USERINFO_URL',
  'EMAILS_URL',
  'CLIENT_ID',
  'CLIENT_SECRET',
  'SCOPES',
  'LABEL',
] as const;
type Suffix = (typeof SUFFIXES)[number];

/**
 * Plain HTTP only to this machine (a development or test provider); anything else must be HTTPS, or the
 * codes and tokens would cross the network in clear.
 */
function urlProblem(variable: string, value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${variable}=${JSON.stringify(value)}: not a URL`;
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) {
    return undefined;
  }
  return `${variable}=${JSON.stringify(value)}: expected an https:// URL (http:// only for localhost)`;
}

/**
 * Reads the OAuth providers from the environment; each mistake goes into `problems` (reported with the
 * rest of the configuration as NST-C001). Example: `parseOAuthProviders({ OAUTH_PROVIDERS: 'google',
 * OAUTH_GOOGLE_CLIENT_ID: 'id', OAUTH_GOOGLE_CLIENT_SECRET: 'secret' }, problems)`.
 */
export function parseOAuthProviders(
  env: Record<string, string | undefined>,
  problems: string[],
): OAuthProviderConfig[] {
  const names = (env.OAUTH_PROVIDERS ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  // A variable for a provider that is not listed is a typo or a forgotten OAUTH_PROVIDERS entry.
  for (const variable of Object.keys(env)) {
    const match = /^OAUTH_([A-Z0-9]+)_(.+)$/.exec(variable);
    if (match && !names.includes(match[1].toLowerCase()) && SUFFIXES.includes(match[2] as Suffix)) {
      problems.push(`${variable}: provider "${match[1].toLowerCase()}" is not in OAUTH_PROVIDERS`);
    }
  }
  const providers: OAuthProviderConfig[] = [];
  for (const name of new Set(names)) {
    if (!NAME.test(name)) {
      problems.push(
        `OAUTH_PROVIDERS: "${name}" is not a provider name (a letter, then letters or digits, at most 40)`,
      );
      continue;
    }
    const provider = parseProvider(name, env, problems);
    if (provider) {
      providers.push(provider);
    }
  }
  return providers;
}

type Getter = (suffix: Suffix) => string | undefined;
const EXPLICIT = ['AUTHORIZATION_URL', 'TOKEN_URL', 'USERINFO_URL'] as const;

function parseProvider(
  name: string,
  env: Record<string, string | undefined>,
  problems: string[],
): OAuthProviderConfig | undefined {
  const prefix = `OAUTH_${name.toUpperCase()}_`;
  const get: Getter = (suffix) => env[prefix + suffix]?.trim() || undefined;
  const before = problems.length;
  const preset = PRESETS[name] as Preset | undefined;
  checkVariables(name, prefix, get, problems);
  const { kind, oidc, given } = providerKind(prefix, get, preset, problems);
  const scopes = (get('SCOPES') ?? (kind === 'oidc' ? 'openid email profile' : (preset?.scopes ?? 'email')))
    .split(/[\s,]+/)
    .filter((scope) => scope !== '');
  if (kind === 'oidc' && !scopes.includes('openid')) {
    problems.push(`${prefix}SCOPES=${JSON.stringify(get('SCOPES'))}: OpenID Connect needs the scope openid`);
  }
  if (problems.length > before || !kind) {
    return undefined;
  }
  const usePreset = !oidc && given.length === 0;
  return {
    name,
    label: get('LABEL') ?? preset?.label ?? name.charAt(0).toUpperCase() + name.slice(1),
    clientId: get('CLIENT_ID')!,
    clientSecret: get('CLIENT_SECRET')!,
    scopes,
    kind,
    ...providerServer(kind, get, preset, usePreset),
  };
}

/** The client id and secret are there; every URL is HTTPS (or loopback HTTP). */
function checkVariables(name: string, prefix: string, get: Getter, problems: string[]): void {
  for (const suffix of ['CLIENT_ID', 'CLIENT_SECRET'] as const) {
    if (!get(suffix)) {
      problems.push(`${prefix}${suffix}: required for the OAuth provider "${name}"`);
    }
  }
  const urlSuffixes = SUFFIXES.filter((suffix) => suffix.endsWith('_URL') || suffix === 'ISSUER');
  for (const suffix of urlSuffixes) {
    const value = get(suffix);
    const problem = value && urlProblem(prefix + suffix, value);
    if (problem) {
      problems.push(problem);
    }
  }
}

/** OIDC (an issuer or discovery URL, or a preset's issuer) or plain OAuth 2 (three endpoints, or a preset's). */
function providerKind(
  prefix: string,
  get: Getter,
  preset: Preset | undefined,
  problems: string[],
): { kind: 'oidc' | 'oauth2' | undefined; oidc: string | undefined; given: (typeof EXPLICIT)[number][] } {
  const oidc = get('ISSUER') ?? get('DISCOVERY_URL');
  const given = EXPLICIT.filter((suffix) => get(suffix));
  if (get('ISSUER') && get('DISCOVERY_URL')) {
    problems.push(`${prefix}ISSUER and ${prefix}DISCOVERY_URL: set one of them, not both`);
  }
  if (oidc && given.length > 0) {
    problems.push(
      `${prefix}${given[0]}: an OpenID Connect provider (${prefix}ISSUER or DISCOVERY_URL) finds its endpoints by discovery; remove one`,
    );
  }
  if (!oidc && given.length > 0 && given.length < EXPLICIT.length) {
    const missing = EXPLICIT.filter((suffix) => !get(suffix)).map((suffix) => prefix + suffix);
    problems.push(`${missing.join(', ')}: a plain OAuth 2 provider needs all three endpoint URLs`);
  }
  const kind: 'oidc' | 'oauth2' | undefined =
    oidc || (given.length === 0 && preset?.issuer)
      ? 'oidc'
      : given.length === EXPLICIT.length || (given.length === 0 && preset?.endpoints)
        ? 'oauth2'
        : undefined;
  if (!kind && given.length === 0) {
    problems.push(
      `${prefix}ISSUER: set the issuer (or ${prefix}DISCOVERY_URL) of an OpenID Connect provider, or ` +
        `${prefix}AUTHORIZATION_URL, TOKEN_URL and USERINFO_URL of a plain OAuth 2 provider`,
    );
  }
  return { kind, oidc, given };
}

/** Where the provider is: its discovery URL or issuer (OIDC), or its endpoints (OAuth 2). */
function providerServer(
  kind: 'oidc' | 'oauth2',
  get: Getter,
  preset: Preset | undefined,
  usePreset: boolean,
): Pick<OAuthProviderConfig, 'discoveryUrl' | 'issuer' | 'endpoints'> {
  if (kind === 'oidc') {
    return get('DISCOVERY_URL')
      ? { discoveryUrl: get('DISCOVERY_URL') }
      : { issuer: get('ISSUER') ?? preset!.issuer };
  }
  return {
    endpoints: usePreset
      ? { ...preset!.endpoints!, ...(get('EMAILS_URL') ? { emails: get('EMAILS_URL') } : {}) }
      : {
          authorization: get('AUTHORIZATION_URL')!,
          token: get('TOKEN_URL')!,
          userinfo: get('USERINFO_URL')!,
          ...(get('EMAILS_URL') ? { emails: get('EMAILS_URL') } : {}),
        },
  };
}
