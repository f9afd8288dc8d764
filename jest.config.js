const { readdirSync, readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

/** Installed packages published as ES modules: Jest must compile them to CommonJS (see test/jest/swc-transformer.js). */
function esmPackages(root = join(__dirname, 'node_modules')) {
  const names = [];
  for (const entry of readdirSync(root)) {
    const dirs = entry.startsWith('@') ? readdirSync(join(root, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of dirs) {
      const manifest = join(root, name, 'package.json');
      if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).type === 'module') {
        names.push(name);
      }
      // A nested copy (another major than the hoisted one, e.g. jose 6 under openid-client) counts too.
      const nested = join(root, name, 'node_modules');
      if (existsSync(nested)) {
        names.push(...esmPackages(nested));
      }
    }
  }
  return names;
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const shared = {
  transform: { '^.+\\.(ts|js|mjs|cjs)$': '<rootDir>/test/jest/swc-transformer.js' },
  // PGlite's CommonJS build loads Node built-ins, and @fastify/cookie the ESM `cookie`, with import(), which
  // Jest's VM refuses without a flag.
  transformIgnorePatterns: [
    `/node_modules/(?!(${[...esmPackages(), '@electric-sql/pglite', '@fastify/cookie'].map(escapeRegExp).join('|')})/)`,
  ],
  moduleNameMapper: { '^src/(.*)$': '<rootDir>/src/$1', '^test/(.*)$': '<rootDir>/test/$1' },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  testTimeout: 60000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
