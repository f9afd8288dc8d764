// Nestor's Jest settings, shared by this repository and every app (`require('nestor/jest-preset')` in its
// jest.config.js): TypeScript and the ES-module packages run through swc (see swc-transformer.js), and
// `src/…` imports resolve from the project root as tsconfig.json "paths" say.
const { readdirSync, readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

/** Installed packages published as ES modules: Jest must compile them to CommonJS (see swc-transformer.js). */
function esmPackages(root) {
  if (!existsSync(root)) {
    return [];
  }
  const names = [];
  for (const entry of readdirSync(root)) {
    const dirs = entry.startsWith('@') ? readdirSync(join(root, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of dirs) {
      const manifest = join(root, name, 'package.json');
      if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).type === 'module') {
        names.push(name);
      }
      // A nested copy (another major than the hoisted one, e.g. jose 6 under openid-client) counts too.
      names.push(...esmPackages(join(root, name, 'node_modules')));
    }
  }
  return names;
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The settings for a project whose root is `root` (Jest's rootDir).
 * Example: `module.exports = { ...nestorPreset(__dirname), testMatch: ['<rootDir>/test/**\/*.e2e-spec.ts'] }`.
 */
function nestorPreset(root) {
  return {
    transform: { '^.+\\.(ts|js|mjs|cjs)$': join(__dirname, 'swc-transformer.js') },
    // PGlite's CommonJS build loads Node built-ins, @fastify/cookie the ESM `cookie` and mercurius (GraphQL)
    // the ESM `quick-lru`, with import(), which Jest's VM refuses without a flag.
    transformIgnorePatterns: [
      `/node_modules/(?!(${[...esmPackages(join(root, 'node_modules')), '@electric-sql/pglite', '@fastify/cookie', 'mercurius'].map(escapeRegExp).join('|')})/)`,
    ],
    moduleNameMapper: { '^src/(.*)$': '<rootDir>/src/$1', '^test/(.*)$': '<rootDir>/test/$1' },
    moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
    testEnvironment: 'node',
  };
}

module.exports = { nestorPreset };
