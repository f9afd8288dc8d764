import { randomBytes } from 'node:crypto';
export { deleteRedisKeys } from 'src/framework/testing';

/** The test Redis (ci starts it on the default port). */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix of this run's own (Redis keys, job queues), so parallel runs and workers never meet. */
export function testPrefix(name: string): string {
  return `${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * The environment of app instances behind one load balancer: the test Redis under one key prefix, inline
 * workers, and one SECRET_KEY so a token from one instance is good in the others.
 * Example: `const env = sharedRedisEnv(testPrefix('principals'))`.
 */
export function sharedRedisEnv(prefix: string): Record<string, string> {
  return {
    REDIS_URL: TEST_REDIS_URL,
    JOBS_PREFIX: prefix,
    WORKERS: 'inline',
    SECRET_KEY: randomBytes(32).toString('base64url'),
  };
}
