import { ExecutionContext, HttpException, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type * as ThrottlerRedis from '@nest-lab/throttler-storage-redis';
import { clientBucket, tooManyRequests } from 'src/framework/auth/login-throttle.service';
import type { Principal } from 'src/framework/access/principal';
import type { NestorConfig, RateLimit } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { lazyModule } from 'src/framework/lazy-module';

const throttlerRedis = lazyModule<typeof ThrottlerRedis>('@nest-lab/throttler-storage-redis');

type LimitedRequest = { principal?: Principal; ip: string };

const principalOf = (context: ExecutionContext): Principal | undefined =>
  context.switchToHttp().getRequest<LimitedRequest>().principal;

/**
 * The API's request budget (OWASP API4), as Laravel's `throttle:api`: per user when signed in (JWT, API
 * key or admin session, whatever the address), else per client address (IPv6 by /64), across all routes.
 * With REDIS_URL the counters live in Redis (keys `<JOBS_PREFIX>:rate-limit:*`, one atomic script per
 * request), so N processes share one budget; without it each process counts in memory. `@SkipThrottle()`
 * exempts a controller (health probes, metrics scrapes).
 * Example: `ThrottlerModule.forRootAsync({ inject: [NestorConfig], useFactory: rateLimitOptions })`.
 */
export function rateLimitOptions(config: NestorConfig): ThrottlerModuleOptions {
  const { anonymous, user } = config.rateLimits;
  const budget = (context: ExecutionContext): RateLimit | undefined =>
    principalOf(context) ? user : anonymous;
  return {
    storage: config.redisUrl ? redisStorage(config.redisUrl, config.jobsPrefix) : undefined,
    throttlers: [
      {
        name: 'default',
        limit: (context) => budget(context)?.limit ?? 0,
        ttl: (context) => budget(context)?.ttlMs ?? 0,
        skipIf: (context) => budget(context) === undefined,
      },
    ],
  };
}

/**
 * The counters' store on Redis. It owns its client (it disconnects it when the app closes). A request waits
 * about two seconds at most for Redis, then answers 503 (RateLimitGuard) instead of hanging. Auto-pipelining
 * sends the counts of every request that arrived in one turn of the event loop in one write: on a 2-core
 * test machine a write to Redis cost about 40 µs of CPU, most of what counting one took.
 */
function redisStorage(url: string, prefix: string): ThrottlerRedis.ThrottlerStorageRedisService {
  const storage = new (throttlerRedis().ThrottlerStorageRedisService)(url, {
    keyPrefix: `${prefix}:rate-limit:`,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // A Redis that takes the connection and then stops answering (paused, a stuck failover) would
    // otherwise hold every request as long as it is silent: ioredis has no command timeout by default.
    commandTimeout: 2_000,
    enableAutoPipelining: true,
  });
  // Reported by the requests it refuses (503). Without a listener, ioredis prints every failed reconnect
  // to stderr, outside the JSON log.
  storage.redis.on('error', () => undefined);
  return storage;
}

/**
 * Runs after the authentication guard (registered after it), so the principal is known; answers 429
 * problem+json with Retry-After, and sets the X-RateLimit-Limit/-Remaining/-Reset headers.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      return true; // a GraphQL resolver: its HTTP request was counted once, before the document ran
    }
    try {
      return await super.canActivate(context);
    } catch (error) {
      if (error instanceof HttpException) {
        throw error;
      }
      // The shared counters' store (Redis) failed: say so, as for any dependency that is down.
      throw new ProblemException(
        {
          type: PROBLEM_TYPES.dependencyDown,
          title: 'Service Unavailable',
          status: 503,
          detail: `The request budget store is unavailable right now (${(error as Error).message}). Retry shortly.`,
        },
        { 'retry-after': '5' },
      );
    }
  }

  protected override getTracker(request: LimitedRequest): Promise<string> {
    const principal = request.principal;
    return Promise.resolve(principal ? `user:${principal.userId}` : `ip:${clientBucket(request.ip)}`);
  }

  /** One budget per client across every route (the library's default is one per route). */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw tooManyRequests(Math.max(1, detail.timeToBlockExpire), 'Too many requests.');
  }
}
