import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Problem, ProblemFieldError } from 'src/framework/http/problem';

/** The media type of every error Nestor sends (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Longest `instance`, `detail` and field-error texts a problem carries: enough to recognise the input. */
const MAX_INSTANCE = 200;
const MAX_DETAIL = 300;
const MAX_FIELD = 150;

/**
 * `text` cut to at most `max` characters, ending in `…` when cut, never inside a surrogate pair: a problem
 * names what was wrong without echoing a 10 kB path or parameter name back.
 * Example: `clipText('x'.repeat(300), 10)` → `'xxxxxxxxx…'`.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) {
    end -= 1;
  }
  return `${text.slice(0, end)}…`;
}

/** The path of a request URL, without its query (which may carry anything, secrets included). */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function clipFieldError(error: ProblemFieldError): ProblemFieldError {
  return {
    ...error,
    ...(error.pointer !== undefined ? { pointer: clipText(error.pointer, MAX_FIELD) } : {}),
    ...(error.parameter !== undefined ? { parameter: clipText(error.parameter, MAX_FIELD) } : {}),
    message: clipText(error.message, MAX_FIELD),
  };
}

/**
 * Sends `problem` as `application/problem+json` with the request's path as `instance` and its id as
 * `requestId`; `detail`, `instance` and field errors are clipped. Every error path uses it: the exception
 * filter, the router's errors, the ALLOWED_HOSTS check.
 * Example: `sendProblem(request, reply, { type: 'about:blank', title: 'Gone', status: 410 })`.
 */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  problem: Problem,
  headers: Record<string, string> = {},
): void {
  const body: Problem = {
    ...problem,
    ...(typeof problem.detail === 'string' ? { detail: clipText(problem.detail, MAX_DETAIL) } : {}),
    ...(problem.errors ? { errors: problem.errors.map(clipFieldError) } : {}),
    instance: clipText(pathOf(request.url), MAX_INSTANCE),
    requestId: request.id,
  };
  void reply.status(problem.status).headers(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}
