const { nestorPreset } = require('./jest/preset');

const preset = nestorPreset(__dirname);
const shared = {
  ...preset,
  // `nestor`, `nestor/testing` and `nestor/cli` are the package's public entry points (package.json "exports"): the shop
  // imports them as an installed app would, and Jest maps them to the sources as tsconfig.json "paths" does.
  moduleNameMapper: {
    '^nestor$': '<rootDir>/src/framework/index.ts',
    '^nestor/testing$': '<rootDir>/src/framework/testing/index.ts',
    '^nestor/cli$': '<rootDir>/src/framework/cli/index.ts',
    ...preset.moduleNameMapper,
  },
  // Scratch copies of the checkout (`npm run bench`'s snapshot, CLI and process tests) hold package.json files
  // named `nestor` too: Jest's module map must not see them.
  modulePathIgnorePatterns: ['<rootDir>/.tmp/'],
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
