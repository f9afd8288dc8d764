import {
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  SetMetadata,
  UseInterceptors,
  applyDecorators,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { Observable, from, of, switchMap } from 'rxjs';
import { idempotencyKeyOf, keyMissing } from 'src/framework/idempotency/idempotency-key';
import { IdempotencyService } from 'src/framework/idempotency/idempotency.service';

/** What `@Idempotent()` records on a route. */
export interface IdempotentOptions {
  /** Refuse requests without a key (400), as the draft allows for operations that need one. */
  required?: boolean;
}

export const IDEMPOTENT = 'nestor:idempotent';

/**
 * Runs a route under its request's `Idempotency-Key` (routes opt in with `@Idempotent()`): after the guards,
 * so the caller is known; before the pipes, so a replay does not validate or run anything.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const key = idempotencyKeyOf(request.raw.rawHeaders);
    if (key === undefined) {
      const options = this.reflector.get<IdempotentOptions | undefined>(IDEMPOTENT, context.getHandler());
      if (options?.required) {
        throw keyMissing();
      }
      return next.handle();
    }
    return from(this.idempotency.begin(request, key)).pipe(
      switchMap((claim) => (claim ? this.idempotency.run(claim, () => next.handle()) : of(undefined))),
    );
  }
}

/** The behaviour of `@Idempotent()` without its OpenAPI header (generated routes call runKeyed instead). */
export function IdempotentRoute(options: IdempotentOptions = {}): MethodDecorator {
  return applyDecorators(SetMetadata(IDEMPOTENT, options), UseInterceptors(IdempotencyInterceptor));
}
