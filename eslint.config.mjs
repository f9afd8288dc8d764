// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '.tmp/**',
      'dist/**',
      'node_modules/**',
      'data/**',
      'coverage/**',
      'admin/dist/**',
      'graphiql/dist/**',
      'eslint.config.mjs',
      'test/generated/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Absolute imports from src/: no climbing out of a folder with ../
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../*', '../**'], message: 'Import from "src/…" instead of a relative parent path.' },
          ],
        },
      ],
    },
  },
  {
    // The product never depends on the example shop.
    files: ['src/framework/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../*', '../**'], message: 'Import from "src/…" instead of a relative parent path.' },
            {
              group: ['src/app', 'src/app/**', 'src/app.module'],
              message: 'src/framework must not import src/app (the example shop).',
            },
            {
              group: ['nestor', 'nestor/*'],
              message:
                'Inside the framework, import the file itself ("src/framework/…"): "nestor" is for apps.',
            },
          ],
        },
      ],
    },
  },
  {
    // The shop is an app like any other: it sees the framework only through the package's public entry
    // points ("nestor", "nestor/testing"), as an app that installed it does.
    files: ['src/app/**/*.ts', 'src/*.ts', 'migrations/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../*', '../**'], message: 'Import from "src/…" instead of a relative parent path.' },
            {
              group: ['src/framework', 'src/framework/**'],
              message:
                'An app imports the framework from "nestor" (tests: "nestor/testing"), not from its files.',
            },
          ],
        },
      ],
    },
  },
  {
    // Pieces one can hold in one's head: a framework file stays under 400 lines and a
    // function under 60, not counting blank lines and comments. Specs are exempt: a long table of cases reads fine;
    // so are migrations, which makemigrations writes as one statement list.
    files: ['src/framework/**/*.ts'],
    ignores: ['**/*.spec.ts', 'src/framework/database/migrations/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      // Jest's asymmetric matchers (expect.any, objectContaining) are typed `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    // The admin UI is a browser app bundled by Vite: browser globals, and relative imports (it has no
    // `src/` alias; its files import their neighbours).
    files: ['admin/**/*.ts', 'admin/**/*.tsx'],
    languageOptions: { globals: globals.browser },
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Compiled by test/hey-api-client.e2e-spec.ts against a client generated at test time (not in the
    // repo), with its own tsconfig: linted without types here.
    files: ['test/openapi/hey-api/**'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
);
