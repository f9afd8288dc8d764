import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from 'src/framework/config/load-config';

describe(loadConfig.name, () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'nestor-config-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Loads with only the given variables: no `.env`, no `process.env`, a throwaway DATA_DIR. */
  const load = (env: Record<string, string | undefined> = {}) =>
    loadConfig({ envFile: false, env: { DATA_DIR: dataDir, ...env } });

  /** The ConfigError a load throws, failing the test when it does not throw one. */
  const configError = (env: Record<string, string | undefined>): ConfigError => {
    try {
      load(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error(`expected loadConfig to throw a ConfigError for ${JSON.stringify(env)}`);
  };

  it('refuses a bad OAuth provider at boot with the other NST-C001 problems', () => {
    const error = configError({ OAUTH_PROVIDERS: 'google', OAUTH_GOOGLE_CLIENT_ID: 'id', PORT: 'x' });
    expect(error.message).toMatch(/^NST-C001 Invalid configuration:/);
    expect(error.problems).toEqual([
      expect.stringContaining('PORT="x"'),
      'OAUTH_GOOGLE_CLIENT_SECRET: required for the OAuth provider "google"',
    ]);
  });

  describe('security settings', () => {
    it('refuses an ADMIN_PASSWORD the password policy refuses, without echoing it', () => {
      for (const password of ['short pw', 'Password1234']) {
        const error = configError({ ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: password });
        expect(error.message).toContain('ADMIN_PASSWORD:');
        expect(error.message).not.toContain(password);
      }
    });

    it('session lifetimes: ASVS level 2 for the admin (30 min idle, 12 h), 30 days for refresh tokens', () => {
      expect(load()).toMatchObject({
        adminSession: { idleTimeout: 1800, maxAge: 43200 },
        refreshTokenTtl: 2592000,
        securityTxt: undefined,
      });
    });

    it('security.txt needs SECURITY_CONTACT and SECURITY_EXPIRES together', () => {
      expect(configError({ SECURITY_CONTACT: 'mailto:sec@example.com' }).message).toContain(
        'SECURITY_CONTACT and SECURITY_EXPIRES',
      );
      expect(
        load({ SECURITY_CONTACT: 'mailto:sec@example.com', SECURITY_EXPIRES: '2030-01-01T00:00:00Z' })
          .securityTxt,
      ).toEqual({
        contact: ['mailto:sec@example.com'],
        expires: new Date('2030-01-01T00:00:00Z'),
        policy: undefined,
        languages: undefined,
      });
    });
  });

  describe('defaults', () => {
    it('listens on 127.0.0.1:3000 with a 1 MiB body limit, no CORS and no trusted proxy', () => {
      const sut = load();

      expect(sut).toMatchObject({
        port: 3000,
        host: '127.0.0.1',
        bodyLimit: 1024 * 1024,
        corsOrigins: [],
        trustProxy: false,
        nodeEnv: 'development',
        databaseUrl: undefined,
        redisUrl: undefined,
        dataDir,
      });
    });

    it('applies migrations on boot outside production only', () => {
      expect(load({ NODE_ENV: 'development' }).migrateOnBoot).toBe(true);
      expect(load({ NODE_ENV: 'test' }).migrateOnBoot).toBe(true);
      expect(load({ NODE_ENV: 'production', SECRET_KEY: 'p'.repeat(40) }).migrateOnBoot).toBe(false);
    });

    it('returns a frozen object so nothing can change settings after boot', () => {
      expect(Object.isFrozen(load())).toBe(true);
    });

    it('lets overrides win over the environment', () => {
      const sut = loadConfig({
        envFile: false,
        env: { DATA_DIR: dataDir, PORT: '4000' },
        overrides: { migrateOnBoot: false, port: 5000 },
      });

      expect(sut.migrateOnBoot).toBe(false);
      expect(sut.port).toBe(5000);
    });
  });

  describe('validation', () => {
    it('rejects a non-numeric PORT with a ConfigError naming PORT', () => {
      const sut = configError({ PORT: 'abc' });

      expect(sut.message).toMatch(/^NST-C001/);
      expect(sut.message).toContain('PORT="abc"');
      expect(sut.problems).toHaveLength(1);
    });

    it('lists every bad variable in one message', () => {
      const sut = configError({
        PORT: 'abc',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x',
        BODY_LIMIT: 'lots',
      });

      expect(sut.problems).toHaveLength(4);
      for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'BODY_LIMIT']) {
        expect(sut.message).toContain(`${name}=`);
      }
    });

    it('says what a bad variable expects', () => {
      expect(configError({ LOG_LEVEL: 'loud' }).message).toContain('expected one of fatal, error, warn');
    });

    it('accepts a valid port', () => {
      expect(load({ PORT: '8080' }).port).toBe(8080);
    });

    it('treats empty-string variables as unset', () => {
      const sut = load({ PORT: '', HOST: '', LOG_LEVEL: '', BODY_LIMIT: '', DATABASE_URL: '' });

      expect(sut.port).toBe(3000);
      expect(sut.host).toBe('127.0.0.1');
      expect(sut.logLevel).toBe('info');
      expect(sut.bodyLimit).toBe(1024 * 1024);
      expect(sut.databaseUrl).toBeUndefined();
    });
  });

  describe('BODY_LIMIT', () => {
    it.each([
      ['512kb', 512 * 1024],
      ['1mb', 1024 * 1024],
      ['2MB', 2 * 1024 * 1024],
      ['1gb', 1024 ** 3],
      ['100b', 100],
      ['2048', 2048],
    ])('parses %s as %d bytes', (value, bytes) => {
      expect(load({ BODY_LIMIT: value }).bodyLimit).toBe(bytes);
    });

    it('rejects an unknown unit', () => {
      expect(configError({ BODY_LIMIT: '1tb' }).message).toContain('BODY_LIMIT');
    });
  });

  describe('CORS_ORIGINS', () => {
    it('splits a comma-separated list and trims spaces', () => {
      const sut = load({ CORS_ORIGINS: 'https://shop.example.com, http://localhost:5173' });

      expect(sut.corsOrigins).toEqual(['https://shop.example.com', 'http://localhost:5173']);
    });

    it('accepts * for any origin', () => {
      expect(load({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    });

    it('rejects an origin that is not a URL', () => {
      expect(configError({ CORS_ORIGINS: 'shop.example.com' }).message).toContain('CORS_ORIGINS');
    });
  });

  describe('ALLOWED_HOSTS', () => {
    it("defaults to PUBLIC_URL's host and loopback", () => {
      expect(load({ PUBLIC_URL: 'https://shop.example.com' }).allowedHosts).toEqual([
        'shop.example.com',
        '.localhost',
        '127.0.0.1',
        '[::1]',
      ]);
    });

    it('follows an IPv6 bind address when PUBLIC_URL is not set', () => {
      const sut = load({ HOST: '::', PORT: '8080' });
      expect(sut.publicUrl).toBe('http://[::]:8080');
      expect(sut.allowedHosts).toEqual(['[::]', '.localhost', '127.0.0.1', '[::1]']);
    });

    it('refuses a PUBLIC_URL that is not a URL', () => {
      expect(configError({ PUBLIC_URL: 'http://[shop' }).message).toContain('PUBLIC_URL');
    });

    it('splits a comma-separated list of names, domains, IPv6 literals or *', () => {
      expect(load({ ALLOWED_HOSTS: 'shop.example.com, .example.org,[::1], *' }).allowedHosts).toEqual([
        'shop.example.com',
        '.example.org',
        '[::1]',
        '*',
      ]);
    });

    it.each(['shop.example.com:443', 'https://shop.example.com', 'shop example', 'a,,b'])(
      'rejects %j',
      (value) => {
        expect(configError({ ALLOWED_HOSTS: value }).message).toContain('ALLOWED_HOSTS');
      },
    );
  });

  describe('RATE_LIMIT_ANON / RATE_LIMIT_USER', () => {
    it('default to 300 and 1200 a minute, and to off under NODE_ENV=test', () => {
      expect(load().rateLimits).toEqual({
        anonymous: { limit: 300, ttlMs: 60_000 },
        user: { limit: 1200, ttlMs: 60_000 },
      });
      expect(load({ NODE_ENV: 'test' }).rateLimits).toEqual({ anonymous: undefined, user: undefined });
    });

    it('take a number per second, minute or hour, or off, in any environment', () => {
      const sut = load({ NODE_ENV: 'test', RATE_LIMIT_ANON: '5/second', RATE_LIMIT_USER: '10000/hour' });
      expect(sut.rateLimits).toEqual({
        anonymous: { limit: 5, ttlMs: 1_000 },
        user: { limit: 10_000, ttlMs: 3_600_000 },
      });
      expect(load({ RATE_LIMIT_ANON: 'off' }).rateLimits.anonymous).toBeUndefined();
    });

    it.each(['300', '0/minute', '300/day', '300 per minute'])('rejects %j', (value) => {
      expect(configError({ RATE_LIMIT_USER: value }).message).toContain('RATE_LIMIT_USER');
    });
  });

  describe('IDEMPOTENCY_TTL / IDEMPOTENCY_STORE', () => {
    it('default to 24 hours, in the database without Redis and in Redis with it', () => {
      expect(load().idempotency).toEqual({ ttlSeconds: 86_400, store: 'database' });
      expect(load({ REDIS_URL: 'redis://127.0.0.1:6379' }).idempotency.store).toBe('redis');
    });

    it('take seconds or a unit, and the database even when Redis is configured', () => {
      const sut = load({
        IDEMPOTENCY_TTL: '90m',
        IDEMPOTENCY_STORE: 'database',
        REDIS_URL: 'redis://127.0.0.1:6379',
      });
      expect(sut.idempotency).toEqual({ ttlSeconds: 5_400, store: 'database' });
      expect(load({ IDEMPOTENCY_TTL: '3600' }).idempotency.ttlSeconds).toBe(3_600);
      expect(load({ IDEMPOTENCY_TTL: '7d' }).idempotency.ttlSeconds).toBe(604_800);
    });

    it.each(['0', '24 h', '1w', '-5'])('rejects IDEMPOTENCY_TTL=%j', (value) => {
      expect(configError({ IDEMPOTENCY_TTL: value }).message).toContain('IDEMPOTENCY_TTL');
    });

    it('refuses the Redis store without REDIS_URL', () => {
      expect(configError({ IDEMPOTENCY_STORE: 'redis' }).message).toContain('IDEMPOTENCY_STORE=redis');
    });
  });

  describe('JOBS_MAX_STALLS', () => {
    it('lets a job outlive two worker deaths by default, and takes a whole number up to 100', () => {
      expect(load().jobsMaxStalls).toBe(2);
      expect(load({ JOBS_MAX_STALLS: '0' }).jobsMaxStalls).toBe(0);
      expect(load({ JOBS_MAX_STALLS: '100' }).jobsMaxStalls).toBe(100);
    });

    it.each(['-1', '101', '2.5', 'many', '02'])('rejects JOBS_MAX_STALLS=%j', (value) => {
      expect(configError({ JOBS_MAX_STALLS: value }).message).toContain('JOBS_MAX_STALLS');
    });
  });

  describe('TRUST_PROXY', () => {
    it.each([
      ['true', true],
      ['false', false],
      ['2', 2],
      ['10.0.0.1, 192.168.0.0/16', ['10.0.0.1', '192.168.0.0/16']],
    ])('parses %s', (value, expected) => {
      expect(load({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
    });

    it('rejects anything else', () => {
      expect(configError({ TRUST_PROXY: 'yes please' }).message).toContain('TRUST_PROXY');
    });
  });

  describe('SECRET_KEY_FALLBACKS', () => {
    it('is a comma-separated list of earlier keys, empty by default', () => {
      expect(load().secretKeyFallbacks).toEqual([]);
      const older = ['a'.repeat(32), 'b'.repeat(40)];
      expect(load({ SECRET_KEY_FALLBACKS: older.join(' , ') }).secretKeyFallbacks).toEqual(older);
    });

    it('refuses a key under 32 characters', () => {
      expect(configError({ SECRET_KEY_FALLBACKS: `${'a'.repeat(32)},short` }).problems).toEqual([
        expect.stringMatching(/^SECRET_KEY_FALLBACKS=.*at least 32 characters/),
      ]);
    });
  });

  describe('TLS_CERT_FILE / TLS_KEY_FILE / HTTPS_REDIRECT / HTTP_PORT', () => {
    it('are off by default', () => {
      expect(load()).toMatchObject({ tls: undefined, httpsRedirect: false, httpPort: undefined });
    });

    it('name a file that cannot be read, and the error code', () => {
      const missing = join(dataDir, 'missing.pem');
      const sut = configError({ TLS_CERT_FILE: missing, TLS_KEY_FILE: missing });

      expect(sut.problems).toEqual([`TLS_CERT_FILE="${missing}": cannot read the file (ENOENT)`]);
    });

    it('refuse files that are not a certificate and its key', () => {
      const junk = join(dataDir, 'junk.pem');
      writeFileSync(junk, 'not PEM');

      expect(configError({ TLS_CERT_FILE: junk, TLS_KEY_FILE: junk }).problems).toEqual([
        expect.stringMatching(/^TLS_CERT_FILE and TLS_KEY_FILE: not a PEM certificate chain/),
      ]);
    });

    it('come as a pair', () => {
      expect(configError({ TLS_KEY_FILE: 'key.pem' }).problems).toEqual([
        'TLS_CERT_FILE and TLS_KEY_FILE: set both to serve HTTPS, or neither',
      ]);
    });

    it('refuse a redirect that cannot tell HTTPS from HTTP, and HTTP_PORT without TLS', () => {
      expect(configError({ HTTPS_REDIRECT: 'true' }).problems).toEqual([
        expect.stringMatching(/^HTTPS_REDIRECT=true: .*set TRUST_PROXY/),
      ]);
      expect(load({ HTTPS_REDIRECT: 'true', TRUST_PROXY: '1' }).httpsRedirect).toBe(true);
      expect(configError({ HTTP_PORT: '8080' }).problems).toEqual([
        expect.stringMatching(/^HTTP_PORT: only used with TLS_CERT_FILE and HTTPS_REDIRECT=true/),
      ]);
    });
  });

  describe('SECRET_KEY', () => {
    it('is required in production and the error names it', () => {
      const sut = configError({ NODE_ENV: 'production' });

      expect(sut.message).toContain('SECRET_KEY');
    });

    it('is not generated in production', () => {
      configError({ NODE_ENV: 'production' });

      expect(() => statSync(join(dataDir, 'secret-key'))).toThrow();
    });

    it('must be at least 32 characters in production', () => {
      const sut = configError({ NODE_ENV: 'production', SECRET_KEY: 'short' });

      expect(sut.message).toContain('SECRET_KEY');
      expect(sut.message).toContain('32');
    });

    it('is used as given when set', () => {
      const key = 'k'.repeat(48);

      const sut = load({ NODE_ENV: 'production', SECRET_KEY: key });

      expect(sut.secretKey).toBe(key);
      expect(sut.bootWarnings).toEqual([]);
    });

    it('is generated in development, kept in DATA_DIR/secret-key with mode 0600, and warned about', () => {
      const sut = load();

      const file = join(dataDir, 'secret-key');
      expect(sut.secretKey.length).toBeGreaterThanOrEqual(32);
      expect(readFileSync(file, 'utf8').trim()).toBe(sut.secretKey);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(sut.bootWarnings).toEqual([expect.stringContaining('SECRET_KEY is not set')]);
      expect(sut.bootWarnings[0]).toContain(file);
    });

    it('reuses the generated development key on the next load', () => {
      const first = load();

      const sut = load();

      expect(sut.secretKey).toBe(first.secretKey);
      expect(sut.bootWarnings).toEqual([expect.stringContaining('SECRET_KEY is not set')]);
    });
  });

  describe('envFile', () => {
    it('supplies values from the file, and real variables win over it', () => {
      const envFile = join(dataDir, '.env');
      writeFileSync(envFile, 'PORT=4100\nHOST=0.0.0.0\nLOG_LEVEL=debug\n');

      const sut = loadConfig({ envFile, env: { DATA_DIR: dataDir, PORT: '4200' } });

      expect(sut.port).toBe(4200);
      expect(sut.host).toBe('0.0.0.0');
      expect(sut.logLevel).toBe('debug');
    });

    it('validates values that come from the file', () => {
      const envFile = join(dataDir, '.env');
      writeFileSync(envFile, 'PORT=not-a-port\n');

      expect(() => loadConfig({ envFile, env: { DATA_DIR: dataDir } })).toThrow(/PORT="not-a-port"/);
    });

    it('ignores a file that does not exist', () => {
      const sut = loadConfig({ envFile: join(dataDir, 'missing.env'), env: { DATA_DIR: dataDir } });

      expect(sut.port).toBe(3000);
    });
  });
});

describe(ConfigError.name, () => {
  it('keeps the problems and formats one line per problem', () => {
    const sut = new ConfigError(['PORT="x": bad', 'HOST="?": bad']);

    expect(sut.name).toBe('ConfigError');
    expect(sut.problems).toEqual(['PORT="x": bad', 'HOST="?": bad']);
    expect(sut.message).toBe('NST-C001 Invalid configuration:\n  - PORT="x": bad\n  - HOST="?": bad');
  });
});
