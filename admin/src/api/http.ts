import { HttpError } from 'react-admin';

/** An RFC 9457 problem as the server sends it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { pointer?: string; parameter?: string; code?: string; message: string }[];
}

export const OTP_REQUIRED = 'urn:nestor:problem:otp-required';

// The CSRF token lives in memory only: a reload asks GET /admin/api/session for it again.
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Strip this from error pointers: an action's input fields are reported under `/input`. */
  pointerPrefix?: string;
  /**
   * A write the server accepts an `Idempotency-Key` for: the call sends one key (one user action) and, when
   * the answer is lost (network error, 502-504, or the server still busy with it), retries with that key,
   * so the server runs it once and answers the retry with the first response.
   */
  idempotent?: boolean;
}

/** How often a lost answer is asked for again, and the wait before each retry (ms, unless Retry-After). */
const RETRY_DELAYS = [300, 1000, 3000];
const GATEWAY_ERRORS = new Set([502, 503, 504]);

/** A random key; `crypto.getRandomValues`, unlike `randomUUID`, works on plain-HTTP origins too. */
function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Whether an answer means "ask again with the same key": the server is busy with it, or a gateway failed. */
function retryable(response: Response): boolean {
  return (
    GATEWAY_ERRORS.has(response.status) || (response.status === 409 && response.headers.has('retry-after'))
  );
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `/price` → `price`, `/tagIds/2` → `tagIds`, `/input/reason` with prefix `/input` → `reason`. */
export function fieldErrors(problem: Problem, prefix = ''): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const error of problem.errors ?? []) {
    if (error.pointer === undefined) {
      continue; // a query-parameter error (`parameter`), not a field of the form
    }
    const pointer = error.pointer.startsWith(prefix) ? error.pointer.slice(prefix.length) : error.pointer;
    const name = pointer.split('/').find((part) => part !== '');
    if (name !== undefined) {
      errors[name] ??= error.message;
    }
  }
  return errors;
}

/**
 * A failed response as react-admin's `HttpError`. Field errors go to `body.errors` as `{ price: 'message' }`
 * (react-admin puts them on the form's inputs) with the detail as `root.serverError` (its notification);
 * the problem itself stays in `body.problem`.
 */
export async function toHttpError(response: Response, prefix = ''): Promise<HttpError> {
  let problem: Problem = {};
  try {
    problem = (await response.json()) as Problem;
  } catch {
    // not JSON (a proxy's error page): the status says enough
  }
  const message = problem.detail ?? problem.title ?? (response.statusText || `HTTP ${response.status}`);
  const errors = fieldErrors(problem, prefix);
  const body =
    Object.keys(errors).length > 0
      ? { problem, errors: { ...errors, root: { serverError: message } } }
      : { problem };
  return new HttpError(message, response.status, body);
}

/** Same-origin fetch with the session cookie, JSON bodies and the CSRF header on unsafe methods. */
export async function request(url: string, options: RequestOptions = {}): Promise<Response> {
  const method = options.method ?? 'GET';
  const headers = new Headers({ accept: 'application/json, application/problem+json', ...options.headers });
  if (options.body !== undefined) {
    headers.set('content-type', 'application/json');
  }
  if (UNSAFE.has(method) && csrfToken !== null) {
    headers.set('x-csrf-token', csrfToken);
  }
  const retries = options.idempotent ? RETRY_DELAYS : [];
  if (options.idempotent) {
    headers.set('idempotency-key', idempotencyKey());
  }
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: 'same-origin',
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch (error) {
      // The request may have reached the server: only a keyed write may be sent again.
      if (attempt >= retries.length) {
        throw error;
      }
      await pause(retries[attempt]);
      continue;
    }
    if (attempt < retries.length && retryable(response)) {
      const after = Number(response.headers.get('retry-after'));
      await pause(after > 0 ? after * 1000 : retries[attempt]);
      continue;
    }
    if (!response.ok) {
      throw await toHttpError(response, options.pointerPrefix);
    }
    return response;
  }
}

/** `request` + the parsed JSON body (undefined for 204). */
export async function requestJson<T>(
  url: string,
  options?: RequestOptions,
): Promise<{ json: T; response: Response }> {
  const response = await request(url, options);
  const text = await response.text();
  return { json: (text === '' ? undefined : JSON.parse(text)) as T, response };
}
