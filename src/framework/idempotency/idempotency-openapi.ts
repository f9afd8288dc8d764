import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_ACTIONS,
  IDEMPOTENT_REPLAYED_HEADER,
  MAX_KEY_LENGTH,
} from 'src/framework/idempotency/idempotency-key';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { operationId } from 'src/framework/resource/resource.controller';

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
  example: string;
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
    schema: { type: 'string', minLength: 1, maxLength: 2 * MAX_KEY_LENGTH + 2 },
    example: '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
  };
}

type Responses = Record<string, { description?: string; headers?: Record<string, unknown> } | undefined>;
type Operation = { operationId?: string; parameters?: unknown[]; responses?: Responses };

const PROBLEM_CONTENT = {
  'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
};

/** What each idempotency status means, appended to the operation's own description of that status. */
const IDEMPOTENCY_ERRORS: Record<string, string> = {
  400: `${IDEMPOTENCY_KEY_HEADER} is malformed`,
  409: `a request with this ${IDEMPOTENCY_KEY_HEADER} is still running (Retry-After)`,
  422: `this ${IDEMPOTENCY_KEY_HEADER} was used with a different request`,
};

/**
 * Adds the `Idempotency-Key` parameter, the `Idempotent-Replayed` response header and the idempotency
 * errors to a resource's unsafe operations in `document`, found by operationId.
 * Example: `addIdempotencyKeys(document, definition)` at the end of `addResource`.
 */
export function addIdempotencyKeys(
  document: { paths: Record<string, Record<string, unknown>> },
  definition: Pick<ResourceDefinition, 'path' | 'actions'>,
): void {
  const wanted = new Set(
    IDEMPOTENT_ACTIONS.filter((action) => definition.actions.has(action)).map((action) =>
      operationId(definition.path, action),
    ),
  );
  for (const item of Object.values(document.paths)) {
    for (const candidate of Object.values(item)) {
      const operation = candidate as Operation | undefined;
      if (!operation?.operationId || !wanted.has(operation.operationId)) {
        continue;
      }
      operation.parameters = [...(operation.parameters ?? []), idempotencyParameter()];
      const responses = (operation.responses ??= {});
      for (const [status, response] of Object.entries(responses)) {
        if (response && /^2\d\d$/.test(status)) {
          response.headers = {
            ...response.headers,
            [IDEMPOTENT_REPLAYED_HEADER]: {
              description: `"true" when this is the stored response to an earlier request with the same ${IDEMPOTENCY_KEY_HEADER}`,
              schema: { type: 'string', enum: ['true'] },
            },
          };
        }
      }
      for (const [status, meaning] of Object.entries(IDEMPOTENCY_ERRORS)) {
        const existing = responses[status];
        responses[status] = existing
          ? { ...existing, description: `${existing.description ?? ''}; or ${meaning}` }
          : ({
              description: `${meaning[0].toUpperCase()}${meaning.slice(1)}`,
              content: PROBLEM_CONTENT,
            } as never);
      }
    }
  }
}
