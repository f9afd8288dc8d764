import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  MAX_KEY_LENGTH,
} from 'src/framework/idempotency/idempotency-key';

/**
 * The `Idempotency-Key` header parameter as OpenAPI describes it (used on generated operations and by
 * `@Idempotent()`). Example: `operation.parameters.push(idempotencyParameter())`.
 */
export function idempotencyParameter(required = false): {
  name: string;
  in: 'header';
  required: boolean;
  description: string;
  schema: Record<string, unknown>;
} {
  return {
    name: IDEMPOTENCY_KEY_HEADER,
    in: 'header',
    required,
    description:
      `A unique key for this request (e.g. a UUID), 1-${MAX_KEY_LENGTH} printable ASCII characters, as a ` +
      'structured-field string ("…") or bare. Retrying with the same key and the same request returns the ' +
      `first response (with ${IDEMPOTENT_REPLAYED_HEADER}: true) without running it again; the same key with ` +
      'another request is a 422; a retry while the first is still running is a 409 with Retry-After. Keys ' +
      'belong to the caller and are kept for IDEMPOTENCY_TTL (24 hours by default). Responses with 5xx, and ' +
      '4xx that changed nothing, are not kept: retrying those runs the request again.',
    // Printable ASCII, as a structured-field string (quoted) or bare. No example: Swagger UI would send that
    // one key with every operation, and a key reused for another request is a 422.
    schema: { type: 'string', minLength: 1, maxLength: 2 * MAX_KEY_LENGTH + 2, pattern: '^[ -~]+$' },
  };
}
