import { randomBytes } from 'node:crypto';
export { deleteRedisKeys } from 'src/framework/testing';

/** The test Redis (ci starts it on the default port). */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix of this run's own (Redis keys, job queues), so parallel runs and workers never meet. */
export function testPrefix(name: string): string {
  return `${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
