import { applyDecorators } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { idempotencyParameter } from 'src/framework/idempotency/idempotency-openapi';
import { IdempotentOptions, IdempotentRoute } from 'src/framework/idempotency/idempotency.interceptor';

/**
 * Accepts an `Idempotency-Key` on a hand-written unsafe route: a retry with the same key and request gets
 * the first response (marked `Idempotent-Replayed: true`) without running again; documented in OpenAPI.
 * Example: `@Post() @Idempotent() place(@Body() body: PlaceOrderDto) {…}`.
 */
export function Idempotent(options: IdempotentOptions = {}): MethodDecorator {
  const { name, description, schema } = idempotencyParameter(options.required);
  return applyDecorators(
    IdempotentRoute(options),
    ApiHeader({ name, description, schema, required: options.required ?? false }),
  );
}
