/** Nestor's test kit: import it in your own e2e tests. */
export { createTestApp, type TestApp, type TestAppOptions } from 'src/framework/testing/test-app';
export { createTestDatabase, testServerUrl, type TestDatabase } from 'src/framework/testing/test-database';
export { createTestUser, type TestUser, type TestUserOptions } from 'src/framework/testing/test-users';
