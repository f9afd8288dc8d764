import { Redis } from 'ioredis';

/** The test Redis (ci starts it on the default port). */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** Deletes every key under the given prefixes (`<prefix>:*`), so test runs leave Redis as they found it. */
export async function deleteRedisKeys(url: string, ...prefixes: string[]): Promise<void> {
  const redis = new Redis(url);
  try {
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) {
          await redis.del(...keys);
        }
      } while (cursor !== '0');
    }
  } finally {
    await redis.quit();
  }
}
