import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyRequest, HTTPMethods, onRequestHookHandler } from 'fastify';
import type { BaseLogger } from 'pino';
import { PROBLEM_TYPES, Problem, ProblemException } from 'src/framework/http/problem';
import { PROBLEM_CONTENT_TYPE, clipText, pathOf } from 'src/framework/http/send-problem';

/**
 * The longest request URL (path and query) answered normally; longer ones get 414, as behind nginx or
 * Apache (8 KiB). Above about 16 KiB of request line and headers, Node's HTTP parser answers 431 first.
 */
export const MAX_URL_LENGTH = 8192;

/** A problem titled by its status's reason phrase. */
function statusProblem(status: number, type: string, detail: string): Problem {
  return { type, title: STATUS_CODES[status] ?? 'Error', status, detail };
}

/** What a problem says about the request it refuses: its method and a clipped path, never its query. */
function shortPath(request: Pick<FastifyRequest, 'url'>): string {
  return clipText(pathOf(request.url), 100);
}

/**
 * Refuses a URL longer than {@link MAX_URL_LENGTH} with a 414 problem. Run as an `onRequest` hook; the
 * check is one length comparison.
 */
export const refuseLongUrls: onRequestHookHandler = (request, _reply, done) => {
  if (request.url.length > MAX_URL_LENGTH) {
    const detail = `The URL is longer than the ${MAX_URL_LENGTH} characters this server accepts. Send long filters or lists in fewer, shorter parameters.`;
    done(new ProblemException(statusProblem(414, PROBLEM_TYPES.uriTooLong, detail)));
    return;
  }
  done();
};

/** The methods a 405 may list; anything else is answered 404 when nothing matches. */
const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * The problem for a request the router sent to the not-found handler: 405 with `Allow` when the path has
 * routes for other methods (`PUT /api/products`), else 404. Only runs on a miss, so routing stays as fast.
 * Catch-all routes (`/admin/*`, the CORS preflight's `OPTIONS *`) make no resource and count for no
 * method; a path whose own method has a route of its own reached here on purpose (its handler called
 * `reply.callNotFound()`) and stays a 404.
 */
export function routeMiss(request: FastifyRequest): { problem: Problem; headers: Record<string, string> } {
  const server = request.server;
  const routed = (method: HTTPMethods): boolean => {
    const route = server.findRoute({ method, url: request.url });
    return route !== null && !('*' in route.params);
  };
  const allowed = routed(request.method) ? [] : METHODS.filter(routed);
  if (allowed.length > 0) {
    const allow = allowed.join(', ');
    const detail = `${shortPath(request)} does not accept ${request.method}; it accepts ${allow}.`;
    return { problem: statusProblem(405, 'about:blank', detail), headers: { allow } };
  }
  const detail = `No route matches ${request.method} ${shortPath(request)}.`;
  return { problem: statusProblem(404, 'about:blank', detail), headers: {} };
}

/**
 * The problem for an error Fastify's router raises before any route runs (its `frameworkErrors`): a path
 * with invalid percent-encoding (400), a path parameter over the router's 100 characters (414).
 */
export function routerProblem(error: FastifyError): Problem {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return statusProblem(
        400,
        PROBLEM_TYPES.malformedRequest,
        'The URL path is not valid percent-encoding.',
      );
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return statusProblem(
        414,
        PROBLEM_TYPES.uriTooLong,
        'A path segment is longer than the 100 characters this server routes.',
      );
    default:
      return statusProblem(
        500,
        'about:blank',
        'An unexpected error occurred. Quote the requestId when reporting it.',
      );
  }
}

/** What an error of Node's HTTP parser stands for: 431 head too large, 408 too slow, else not HTTP (400). */
function clientErrorProblem(code: string | undefined): Problem {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return statusProblem(
        431,
        PROBLEM_TYPES.headersTooLarge,
        'The request line and headers together exceed the 16 KiB this server reads. Send a shorter URL, fewer or smaller headers (cookies included).',
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return statusProblem(408, 'about:blank', 'The request did not arrive in time.');
    default:
      return statusProblem(400, PROBLEM_TYPES.malformedRequest, 'The request is not valid HTTP.');
  }
}

/**
 * Answers a request Node's HTTP parser refused before Fastify saw it (Fastify's `clientErrorHandler`): a
 * problem+json with a fresh request id, then the connection closes. Nothing of the request is echoed or
 * logged: it was never parsed, and the part received may hold credentials.
 * Example: `Fastify({ clientErrorHandler: answerClientError(() => logger) })`.
 */
export function answerClientError(
  logger: () => BaseLogger | undefined,
): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection cannot be answered (https://nodejs.org/api/http.html#event-clienterror).
    if (error.code === 'ECONNRESET' || socket.destroyed) {
      return;
    }
    const requestId = randomUUID();
    const problem: Problem = { ...clientErrorProblem(error.code), requestId };
    const status = problem.status;
    logger()?.info(
      { requestId, statusCode: status, code: error.code, remoteAddress: socket.remoteAddress },
      'request refused by the HTTP parser',
    );
    if (socket.writable) {
      const body = JSON.stringify(problem);
      socket.write(
        `HTTP/1.1 ${status} ${problem.title}\r\n` +
          `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          'X-Content-Type-Options: nosniff\r\n' +
          `X-Request-Id: ${requestId}\r\n` +
          'Connection: close\r\n\r\n' +
          body,
      );
    }
    socket.destroy(error);
  };
}
