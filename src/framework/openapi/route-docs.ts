import { applyDecorators } from '@nestjs/common';
import { ApiParam, ApiResponse } from '@nestjs/swagger';

/**
 * Fastify's router refuses a path parameter longer than this (its `maxParamLength` default, which Nestor
 * keeps), so no path parameter can be longer: the bound every string path parameter documents.
 */
export const PATH_PARAM_MAX_LENGTH = 100;

/** The largest PostgreSQL `integer`: serial ids stop there. Example: `@Max(INT32_MAX) productId!: number;` */
export const INT32_MAX = 2147483647;

/**
 * A string path parameter of a hand-written route, with its bounds and a usable example.
 * Example: `@ApiPathParam('name', { description: 'The job name', pattern: JOB_NAME, example: 'mail.send' })`.
 */
export function ApiPathParam(
  name: string,
  schema: { description: string; example: string; pattern?: string; format?: string },
): MethodDecorator & ClassDecorator {
  const { description, ...rest } = schema;
  return ApiParam({
    name,
    description,
    schema: { type: 'string', maxLength: PATH_PARAM_MAX_LENGTH, ...rest },
  });
}

/** A serial integer id in the path. Example: `@ApiIdParam('id', 'The API key')`. */
export function ApiIdParam(name: string, description: string): MethodDecorator & ClassDecorator {
  return ApiParam({
    name,
    description,
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: INT32_MAX, example: 1 },
  });
}

/**
 * The 422 of a route whose body is validated: each field at fault has an `errors[].pointer`.
 * Example: `@ApiInvalidBody('Not an email address')`.
 */
export function ApiInvalidBody(detail = 'Invalid or unknown fields'): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiResponse({ status: 422, description: `${detail}; \`errors[].pointer\` names each field at fault` }),
  );
}
