import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployFindings } from 'src/framework/config/deploy-checks';
import { loadConfig } from 'src/framework/config/load-config';

const SAFE = {
  NODE_ENV: 'production',
  SECRET_KEY: 'k3Y-9f2Lq0ZpX7wR4tV1bN8mC6hJ5dS2aE0uI9oP',
  PUBLIC_URL: 'https://shop.example.com',
  DATABASE_URL: 'postgres://nestor@db:5432/nestor',
  REDIS_URL: 'redis://cache:6379/0',
  DOCS: 'off',
  METRICS: 'protected',
  TRUST_PROXY: '1',
  SMTP_URL: 'smtp://mail.example.com:587',
  CORS_ORIGINS: 'https://shop.example.com',
  ADMIN_REQUIRE_2FA: 'true',
  SECURITY_CONTACT: 'mailto:security@example.com',
  SECURITY_EXPIRES: new Date(Date.now() + 180 * 24 * 3600 * 1000).toISOString(),
};

const codes = (env: Record<string, string>, pendingMigrations: string[] = []): string[] =>
  deployFindings(loadConfig({ env, envFile: false }), { pendingMigrations }).map((f) => f.code);

describe(deployFindings.name, () => {
  it('finds nothing in a production configuration that decided every setting', () => {
    expect(codes(SAFE)).toEqual([]);
  });

  it.each([
    ['weak secret', { SECRET_KEY: 'x'.repeat(40) }, 'NST-W002'],
    ['not production', { NODE_ENV: 'development' }, 'NST-W003'],
    ['plain http', { PUBLIC_URL: 'http://shop.example.com' }, 'NST-W004'],
    ['CORS *', { CORS_ORIGINS: '*' }, 'NST-W005'],
    ['trust any proxy', { TRUST_PROXY: 'true' }, 'NST-W011'],
    ['any host', { ALLOWED_HOSTS: '*' }, 'NST-W014'],
    ['admin without 2FA', { ADMIN_REQUIRE_2FA: 'false' }, 'NST-W017'],
    ['neither TLS nor a trusted proxy', { TRUST_PROXY: 'false' }, 'NST-W018'],
    [
      'security.txt about to expire',
      { SECURITY_EXPIRES: new Date(Date.now() + 86400000).toISOString() },
      'NST-W016',
    ],
  ])('flags %s', (_name, change, code) => {
    expect(codes({ ...SAFE, ...change })).toEqual([code]);
  });

  it('flags settings left at their defaults and pending migrations', () => {
    const {
      DOCS: _d,
      TRUST_PROXY: _p,
      REDIS_URL: _r,
      SMTP_URL: _s,
      METRICS: _m,
      SECURITY_CONTACT: _c,
      SECURITY_EXPIRES: _e,
      ...rest
    } = SAFE;
    expect(codes(rest, ['AddCoupon1'])).toEqual([
      'NST-W007',
      'NST-W008',
      'NST-W009',
      'NST-W010',
      'NST-W012',
      'NST-W013',
      'NST-W015',
      'NST-W018',
    ]);
  });

  it('flags a missing secret and the embedded database in development', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nestor-deploy-checks-'));
    try {
      expect(codes({ DATA_DIR: dataDir })).toEqual(
        expect.arrayContaining(['NST-W001', 'NST-W003', 'NST-W006']),
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
