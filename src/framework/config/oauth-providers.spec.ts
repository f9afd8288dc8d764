import { parseOAuthProviders } from 'src/framework/config/oauth-providers';

describe(parseOAuthProviders.name, () => {
  /** The providers and the problems of one environment. */
  const parse = (env: Record<string, string>) => {
    const problems: string[] = [];
    const providers = parseOAuthProviders(env, problems);
    return { providers, problems };
  };
  const secrets = (name: string) => ({
    [`OAUTH_${name}_CLIENT_ID`]: `${name.toLowerCase()}-id`,
    [`OAUTH_${name}_CLIENT_SECRET`]: `${name.toLowerCase()}-secret`,
  });

  it('is off without OAUTH_PROVIDERS', () => {
    expect(parse({})).toEqual({ providers: [], problems: [] });
  });

  it('reads several providers at once: the google and github presets and any OIDC issuer', () => {
    const sut = parse({
      OAUTH_PROVIDERS: 'google, GitHub,corp',
      ...secrets('GOOGLE'),
      ...secrets('GITHUB'),
      ...secrets('CORP'),
      OAUTH_CORP_ISSUER: 'https://id.corp.example/realms/staff',
      OAUTH_CORP_SCOPES: 'openid email',
      OAUTH_CORP_LABEL: 'Corp SSO',
    });
    expect(sut.problems).toEqual([]);
    expect(sut.providers).toEqual([
      {
        name: 'google',
        label: 'Google',
        clientId: 'google-id',
        clientSecret: 'google-secret',
        scopes: ['openid', 'email', 'profile'],
        kind: 'oidc',
        issuer: 'https://accounts.google.com',
      },
      {
        name: 'github',
        label: 'GitHub',
        clientId: 'github-id',
        clientSecret: 'github-secret',
        scopes: ['read:user', 'user:email'],
        kind: 'oauth2',
        endpoints: {
          authorization: 'https://github.com/login/oauth/authorize',
          token: 'https://github.com/login/oauth/access_token',
          userinfo: 'https://api.github.com/user',
          emails: 'https://api.github.com/user/emails',
        },
      },
      {
        name: 'corp',
        label: 'Corp SSO',
        clientId: 'corp-id',
        clientSecret: 'corp-secret',
        scopes: ['openid', 'email'],
        kind: 'oidc',
        issuer: 'https://id.corp.example/realms/staff',
      },
    ]);
  });

  it('takes a discovery document URL, or explicit endpoints of a plain OAuth 2 provider', () => {
    const sut = parse({
      OAUTH_PROVIDERS: 'azure,forge',
      ...secrets('AZURE'),
      ...secrets('FORGE'),
      OAUTH_AZURE_DISCOVERY_URL: 'https://login.example/tenant/v2.0/.well-known/openid-configuration',
      OAUTH_FORGE_AUTHORIZATION_URL: 'https://forge.example/oauth/authorize',
      OAUTH_FORGE_TOKEN_URL: 'https://forge.example/oauth/token',
      OAUTH_FORGE_USERINFO_URL: 'https://forge.example/api/user',
    });
    expect(sut.problems).toEqual([]);
    expect(sut.providers[0]).toMatchObject({
      kind: 'oidc',
      discoveryUrl: 'https://login.example/tenant/v2.0/.well-known/openid-configuration',
    });
    expect(sut.providers[1]).toMatchObject({
      kind: 'oauth2',
      scopes: ['email'],
      endpoints: { userinfo: 'https://forge.example/api/user' },
    });
  });

  it('names every mistake, each with its variable', () => {
    const sut = parse({
      OAUTH_PROVIDERS: 'corp,forge,plain,9lives',
      OAUTH_CORP_CLIENT_ID: 'corp-id',
      OAUTH_CORP_ISSUER: 'http://id.corp.example',
      OAUTH_CORP_SCOPES: 'email profile',
      ...secrets('FORGE'),
      OAUTH_FORGE_TOKEN_URL: 'https://forge.example/oauth/token',
      ...secrets('PLAIN'),
      OAUTH_GOGLE_CLIENT_ID: 'typo',
    });
    expect(sut.providers).toEqual([]);
    expect(sut.problems).toEqual([
      'OAUTH_GOGLE_CLIENT_ID: provider "gogle" is not in OAUTH_PROVIDERS',
      'OAUTH_CORP_CLIENT_SECRET: required for the OAuth provider "corp"',
      'OAUTH_CORP_ISSUER="http://id.corp.example": expected an https:// URL (http:// only for localhost)',
      'OAUTH_CORP_SCOPES="email profile": OpenID Connect needs the scope openid',
      'OAUTH_FORGE_AUTHORIZATION_URL, OAUTH_FORGE_USERINFO_URL: a plain OAuth 2 provider needs all three endpoint URLs',
      'OAUTH_PLAIN_ISSUER: set the issuer (or OAUTH_PLAIN_DISCOVERY_URL) of an OpenID Connect provider, or ' +
        'OAUTH_PLAIN_AUTHORIZATION_URL, TOKEN_URL and USERINFO_URL of a plain OAuth 2 provider',
      'OAUTH_PROVIDERS: "9lives" is not a provider name (a letter, then letters or digits, at most 40)',
    ]);
  });

  it('allows plain http only on this machine', () => {
    const sut = parse({
      OAUTH_PROVIDERS: 'dev',
      ...secrets('DEV'),
      OAUTH_DEV_ISSUER: 'http://127.0.0.1:8080',
    });
    expect(sut.problems).toEqual([]);
  });
});
