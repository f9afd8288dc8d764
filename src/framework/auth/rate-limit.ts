import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { clientBucket, tooManyRequests } from 'src/framework/auth/login-throttle.service';
import type { Principal } from 'src/framework/access/principal';
import type { NestorConfig, RateLimit } from 'src/framework/config/nestor-config';

type LimitedRequest = { principal?: Principal; ip: string };

const principalOf = (context: ExecutionContext): Principal | undefined =>
  context.switchToHttp().getRequest<LimitedRequest>().principal;

/**
 * The API's request budget (OWASP API4), as Laravel's `throttle:api`: per user when signed in (JWT, API
 * key or admin session, whatever the address), else per client address (IPv6 by /64), across all routes.
 * Counted in memory by @nestjs/throttler, so each process keeps its own budget. `@SkipThrottle()` exempts
 * a controller (health probes, metrics scrapes).
 * Example: `ThrottlerModule.forRootAsync({ inject: [NestorConfig], useFactory: rateLimitOptions })`.
 */
export function rateLimitOptions(config: NestorConfig): ThrottlerModuleOptions {
  const { anonymous, user } = config.rateLimits;
  const budget = (context: ExecutionContext): RateLimit | undefined =>
    principalOf(context) ? user : anonymous;
  return {
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
 * Runs after the authentication guard (registered after it), so the principal is known; answers 429
 * problem+json with Retry-After, and sets the X-RateLimit-Limit/-Remaining/-Reset headers.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
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
