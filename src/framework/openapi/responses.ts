/**
 * The responses and headers every operation shares, declared once in `components` and referenced: the
 * problem responses (RFC 9457) by status, and the rate-limit headers of the request budget.
 */

type Schema = Record<string, unknown>;

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const problemContent = { 'application/problem+json': { schema: PROBLEM_REF } };

/** The rate-limit headers a budgeted route sends on every answer (see the auth module's RateLimitGuard). */
export const RATE_LIMIT_HEADERS = [
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
] as const;

const integerHeader = (description: string): Schema => ({
  description,
  schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 2147483647 },
});

/** `components.headers`. */
export const HEADERS: Record<string, Schema> = {
  'X-RateLimit-Limit': integerHeader(
    'Requests allowed in the current window (per user, else per client address)',
  ),
  'X-RateLimit-Remaining': integerHeader('Requests left in the current window'),
  'X-RateLimit-Reset': integerHeader('Seconds until the current window ends'),
  'Retry-After': integerHeader('Seconds to wait before retrying'),
  ETag: {
    description: 'Validator of this representation, for If-Match (writes) and If-None-Match (reads)',
    schema: { type: 'string', maxLength: 128, pattern: '^(W/)?"[!#-~]*"$' },
  },
  Location: {
    description: 'Path of the created row',
    schema: { type: 'string', format: 'uri-reference', maxLength: 2048 },
  },
};

const ERROR_DESCRIPTIONS: Record<number, [name: string, description: string]> = {
  400: ['BadRequest', 'Malformed request: bad JSON, or a bad query parameter (errors[].parameter names it)'],
  401: ['Unauthorized', 'Authentication required, or the credential sent is invalid or expired'],
  403: ['Forbidden', 'The caller lacks the permission this needs'],
  404: ['NotFound', 'No such row, or not one the caller may see'],
  409: ['Conflict', 'Conflict: a unique or foreign-key violation, or a concurrent change'],
  412: ['PreconditionFailed', 'If-Match does not match the current ETag: reload and retry'],
  413: ['PayloadTooLarge', 'The body is over the size limit'],
  415: ['UnsupportedMediaType', 'The body is not application/json'],
  422: ['ValidationFailed', 'Validation failed; errors[].pointer names each field'],
  429: ['TooManyRequests', 'Over the request budget: wait Retry-After seconds'],
  500: ['InternalServerError', 'Unexpected error (no detail is disclosed; quote the requestId)'],
  503: ['ServiceUnavailable', 'A dependency (database, Redis) is down: retry after Retry-After seconds'],
};

/** Refs to the rate-limit headers, for a budgeted route's responses. */
export function rateLimitHeaderRefs(): Record<string, Schema> {
  return Object.fromEntries(RATE_LIMIT_HEADERS.map((h) => [h, { $ref: `#/components/headers/${h}` }]));
}

/** `components.responses`: one problem response per error status. */
export function errorResponses(): Record<string, Schema> {
  return Object.fromEntries(
    Object.entries(ERROR_DESCRIPTIONS).map(([status, [name, description]]) => {
      const retry = status === '429' || status === '503';
      const headers = {
        ...(retry ? { 'Retry-After': { $ref: '#/components/headers/Retry-After' } } : {}),
        ...(status === '503' ? {} : rateLimitHeaderRefs()),
      };
      return [name, { description, headers, content: problemContent }];
    }),
  );
}

/** The response objects for these statuses, as refs. Example: `{ ...errorRefs(404, 409) }`. */
export function errorRefs(...statuses: number[]): Record<string, Schema> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      { $ref: `#/components/responses/${ERROR_DESCRIPTIONS[status][0]}` },
    ]),
  );
}

/** The shared response's description of a status, e.g. to extend it on one operation. */
export function sharedDescription(status: number): string | undefined {
  return ERROR_DESCRIPTIONS[status]?.[1];
}

/** Whether a status has a shared response in `components.responses`. */
export function hasSharedResponse(status: number): boolean {
  return status in ERROR_DESCRIPTIONS;
}
