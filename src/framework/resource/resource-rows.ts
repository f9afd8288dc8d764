import { hash } from 'node:crypto';
import { Principal, can } from 'src/framework/access/principal';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';

/**
 * The JSON `etagOf` hashed, kept on the row itself under a symbol, non-enumerable: spreads and copies of
 * the row (which may differ) do not carry it, and JSON.stringify does not see it. A single "last row" slot
 * missed under load, since other requests hash their rows between a GET's ETag and its answer.
 */
const HASHED_JSON = Symbol('nestor:hashed-json');

/** `"<27 chars>"`: a strong validator of the full representation (without includes). */
export function etagOf(row: ResourceRow): string {
  const json = JSON.stringify(row);
  Object.defineProperty(row, HASHED_JSON, { value: json, configurable: true, writable: true });
  // The one-shot hash: no Hash object per request (the value is createHash('sha1')…digest's).
  return `"${hash('sha1', json, 'base64url')}"`;
}

/**
 * `JSON.stringify(row)`, without stringifying again a row `etagOf` hashed: a GET answers the row it
 * computed the ETag of. Rows are not changed after they are read, so the JSON kept on the row is its JSON.
 * Example: `reply.type('application/json; charset=utf-8').send(jsonOf(row))`.
 */
export function jsonOf(row: ResourceRow): string {
  return (row as { [HASHED_JSON]?: string })[HASHED_JSON] ?? JSON.stringify(row);
}

/** The 404 of a row that does not exist, or that the caller may not see. */
export function notFound(definition: ResourceDefinition, id: unknown): ProblemException {
  return new ProblemException({
    type: PROBLEM_TYPES.notFound,
    title: 'Not Found',
    status: 404,
    detail: `No ${definition.name} with id ${String(id)}.`,
  });
}

/**
 * The row without its helper columns (`__…`: cursor keys and include owners, never sent to the client).
 * A copy rather than `delete`: deleting properties turns rows into slow dictionary-mode objects, and the
 * response's JSON.stringify then costs about 40 % more on a 20-row page.
 */
export function withoutHelpers(row: ResourceRow): ResourceRow {
  const clean: ResourceRow = {};
  for (const key in row) {
    if (key.charCodeAt(0) !== 95 || key.charCodeAt(1) !== 95) {
      clean[key] = row[key];
    }
  }
  return clean;
}

/** 412 unless `ifMatch` is absent, `*`, or lists the current row's ETag (weak or strong). */
export function checkIfMatch(definition: ResourceDefinition, current: ResourceRow, ifMatch?: string): void {
  if (ifMatch !== undefined && ifMatch.trim() !== '*') {
    const etag = etagOf(current);
    const offered = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
    if (!offered.includes(etag)) {
      throw new ProblemException({
        type: PROBLEM_TYPES.preconditionFailed,
        title: 'Precondition Failed',
        status: 412,
        detail: `The ${definition.name} was changed since you read it (If-Match ${ifMatch} ≠ ${etag}). Fetch it again and retry.`,
      });
    }
  }
}

/**
 * The owner id a caller is limited to on an owned resource, or undefined when unrestricted (not owned,
 * or the caller holds the permission for all rows). Anonymous callers get null: no row matches.
 * Example: `ownerScopeOf(orders, principal, 'view')` → the customer's user id.
 */
export function ownerScopeOf(
  definition: ResourceDefinition,
  principal: Principal | undefined,
  action: 'view' | 'change' | 'delete',
): unknown {
  if (!definition.owner || can(principal, `${definition.path}.${action}`)) {
    return undefined;
  }
  return principal?.userId ?? null;
}
