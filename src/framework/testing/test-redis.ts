import type * as IORedis from 'ioredis';
import { lazyModule } from 'src/framework/lazy-module';

const ioredis = lazyModule<typeof IORedis>('ioredis');

/**
 * Deletes every key under the given prefixes (`<prefix>:*`), so a test leaves Redis as it found it.
 * `createTestApp` does this itself for an app on Redis whose test names no JOBS_PREFIX.
 * Example: `afterAll(() => deleteRedisKeys('redis://127.0.0.1:6379', prefix))`.
 */
export async function deleteRedisKeys(url: string, ...prefixes: string[]): Promise<void> {
  // One attempt: an unreachable Redis rejects at once instead of retrying for seconds.
  const redis = new (ioredis().Redis)(url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
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
    redis.disconnect();
  }
}
