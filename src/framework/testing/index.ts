/**
 * Nestor's test kit: import it in your own e2e tests.
 * Factory definitions register when their file is imported: import your `*.factories.ts` files in the test
 * (e.g. `import 'src/app/catalog/catalog.factories'`) or in a Jest `setupFiles` entry; entities without a
 * definition are filled from their TypeORM metadata.
 */
export { useClock, type TestClock } from 'src/framework/testing/clock';
export {
  Factory,
  FactoryError,
  defineFactory,
  factory,
  type EntityClass,
  type FactoryAttributes,
  type FactoryContext,
  type FactoryDefinition,
  type FactoryOptions,
  type Lazy,
  type LazyContext,
  type ManyOverrides,
} from 'src/framework/testing/factory';
export {
  createTestApp,
  type TestApp,
  type TestAppOptions,
  type TestClient,
} from 'src/framework/testing/test-app';
export { createTestDatabase, testServerUrl, type TestDatabase } from 'src/framework/testing/test-database';
export { deleteRedisKeys } from 'src/framework/testing/test-redis';
export { createTestMailbox, type MailQuery, type TestMailbox } from 'src/framework/testing/test-mail';
export { createTestUser, type TestUser, type TestUserOptions } from 'src/framework/testing/test-users';
