import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { parseItem } from 'structured-headers';
import type { Principal } from 'src/framework/access/principal';
import { ProblemException } from 'src/framework/http/problem';

/** The request header (draft-ietf-httpapi-idempotency-key-header) and the one a replayed response carries. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/** A key is 1 to 255 characters (Stripe's bound; the draft leaves it to the server). */
export const MAX_KEY_LENGTH = 255;

/** A key sent bare, as Stripe's clients do: visible ASCII without quote, backslash or comma. */
const BARE_KEY = /^[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]+$/;

/** `type` URIs of the idempotency problems. */
export const IDEMPOTENCY_PROBLEMS = {
  invalid: 'urn:nestor:problem:idempotency-key-invalid',
  missing: 'urn:nestor:problem:idempotency-key-missing',
  reused: 'urn:nestor:problem:idempotency-key-reused',
  inProgress: 'urn:nestor:problem:idempotency-key-in-progress',
  responseLost: 'urn:nestor:problem:idempotency-response-lost',
  unavailable: 'urn:nestor:problem:dependency-unavailable',
} as const;

function invalid(detail: string): ProblemException {
  return new ProblemException({
    type: IDEMPOTENCY_PROBLEMS.invalid,
    title: 'Invalid Idempotency-Key',
    status: 400,
    detail: `${detail} Send one ${IDEMPOTENCY_KEY_HEADER} of 1-${MAX_KEY_LENGTH} printable ASCII characters, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324" (a UUID).`,
  });
}

/**
 * The key of a request from its raw header lines (`rawHeaders`, so two `Idempotency-Key` fields are seen as
 * two), or undefined without one. The draft's syntax is an RFC 8941 string (`"…"`); a bare key, as Stripe's
 * clients send it, is the same key. More than one field, parameters, an empty or overlong key are a 400.
 * Example: `idempotencyKeyOf(request.raw.rawHeaders)` → `'8e03978e-…'`.
 */
export function idempotencyKeyOf(rawHeaders: readonly string[]): string | undefined {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'idempotency-key') {
      values.push(rawHeaders[i + 1].trim());
    }
  }
  if (values.length === 0) {
    return undefined;
  }
  if (values.length > 1) {
    throw invalid(`The request has ${values.length} ${IDEMPOTENCY_KEY_HEADER} fields.`);
  }
  const [value] = values;
  let key: string;
  if (value.startsWith('"')) {
    let item: ReturnType<typeof parseItem>;
    try {
      item = parseItem(value);
    } catch {
      throw invalid(`${IDEMPOTENCY_KEY_HEADER} is not a valid structured-field string.`);
    }
    if (typeof item[0] !== 'string' || item[1].size > 0) {
      throw invalid(`${IDEMPOTENCY_KEY_HEADER} must be a string without parameters.`);
    }
    key = item[0];
  } else if (BARE_KEY.test(value)) {
    key = value;
  } else {
    throw invalid(`${IDEMPOTENCY_KEY_HEADER} has characters a key cannot contain.`);
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw invalid(`${IDEMPOTENCY_KEY_HEADER} has ${key.length} characters.`);
  }
  return key;
}

/** What identifies "the same request" for a key: method, path and query, If-Match, and the body. */
export interface FingerprintedRequest {
  method: string;
  url: string;
  ifMatch?: string;
  body: unknown;
}

/**
 * SHA-256 (hex) of the request: the body in canonical JSON (sorted keys), so a client that re-serialises it
 * differently on retry is still sending the same payload. If-Match counts: a retry with a new ETag is a new
 * request, which needs a new key.
 */
export function requestFingerprint({ method, url, ifMatch, body }: FingerprintedRequest): string {
  const payload = Buffer.isBuffer(body)
    ? body.toString('base64')
    : typeof body === 'string'
      ? body
      : (stringify(body ?? null) ?? 'null');
  return createHash('sha256')
    .update(JSON.stringify([method.toUpperCase(), url, ifMatch ?? null]))
    .update('\n')
    .update(payload)
    .digest('hex');
}

/**
 * Whose key it is: one user's keys never meet another's. A signed-in user (token or admin session) is
 * `user:<id>`, an API key is a caller of its own (`api-key:<id>`), and an anonymous caller is its client
 * address (`anonymous:<ip>`, the address TRUST_PROXY resolves, as the anonymous rate limit counts it).
 * Example: `callerScope(request.principal, request.ip)` → `'user:42'`.
 */
export function callerScope(principal: Principal | undefined, ip: string): string {
  if (principal?.apiKeyId !== undefined) {
    return `api-key:${principal.apiKeyId}`;
  }
  return principal ? `user:${principal.userId}` : `anonymous:${ip}`;
}

/** The 422 of the draft: the key was used with another request (method, path, If-Match or body). */
export function keyReused(): ProblemException {
  return new ProblemException({
    type: IDEMPOTENCY_PROBLEMS.reused,
    title: 'Idempotency-Key is already used',
    status: 422,
    detail:
      'This Idempotency-Key was used with a different request (method, path, If-Match or body). ' +
      'Send a new key for a new request; retry a request unchanged to get its response.',
  });
}

/** The 409 of the draft: the first request with this key is still running. */
export function keyInProgress(retryAfterSeconds: number): ProblemException {
  return new ProblemException(
    {
      type: IDEMPOTENCY_PROBLEMS.inProgress,
      title: 'A request is outstanding for this Idempotency-Key',
      status: 409,
      detail: `A request with this Idempotency-Key is still being processed. Retry after ${retryAfterSeconds} s with the same key to get its response.`,
    },
    { 'retry-after': String(retryAfterSeconds) },
  );
}

/**
 * The request with this key took effect (its changes were committed), but its response was not kept: the
 * server stopped between the commit and storing it, or failed after the commit. It will not run again.
 */
export function responseLost(): ProblemException {
  return new ProblemException({
    type: IDEMPOTENCY_PROBLEMS.responseLost,
    title: 'The response for this Idempotency-Key is not available',
    status: 409,
    detail:
      'The request sent with this Idempotency-Key was carried out and its changes are saved, but the server ' +
      'could not keep its response. It will not be carried out again: read the resource to see the result.',
  });
}

/** 400 for a route declared `@Idempotent({ required: true })` called without a key. */
export function keyMissing(): ProblemException {
  return new ProblemException({
    type: IDEMPOTENCY_PROBLEMS.missing,
    title: 'Idempotency-Key is missing',
    status: 400,
    detail: `This operation requires an ${IDEMPOTENCY_KEY_HEADER} header: a unique key (e.g. a UUID) per request, sent again unchanged on retry.`,
  });
}
