import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
} from 'src/framework/idempotency/idempotency-key';
import { IDEMPOTENT_ACTIONS } from 'src/framework/resource/resource.decorator';
import { idempotencyParameter } from 'src/framework/idempotency/idempotency-openapi';
import { errorRefs, sharedDescription } from 'src/framework/openapi/responses';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { operationId } from 'src/framework/resource/resource.controller';

type Responses = Record<string, { description?: string; headers?: Record<string, unknown> } | undefined>;
type Operation = { operationId?: string; parameters?: unknown[]; responses?: Responses };

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
        const existing: { description?: string } = responses[status] ?? errorRefs(+status)[status];
        const described: string | undefined = existing.description ?? sharedDescription(+status);
        responses[status] = {
          ...existing,
          description: described ? `${described}; or ${meaning}` : meaning,
        };
      }
    }
  }
}
