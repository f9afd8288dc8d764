export { deleteRedisKeys } from 'src/framework/testing';

/** The test Redis (ci starts it on the default port). */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';
