import type { FastifyInstance } from 'fastify';
import type { BaseLogger } from 'pino';
import { PROBLEM_TYPES } from 'src/framework/http/problem';
import { pathOf, sendProblem } from 'src/framework/http/send-problem';

/** Django's `host_validation_re`: a DNS name or a bracketed IPv6 literal, then an optional port. */
const HOST_AND_PORT = /^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::\d+)?$/;

/**
 * Paths answered whatever the Host: orchestrators' probes and Prometheus address a pod by its IP, and these
 * responses build no link from the Host.
 */
const ANY_HOST_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

/**
 * Whether a Host header value names an allowed host, by Django's rules: the port is ignored, `*` allows any
 * host, `.example.com` allows example.com and its subdomains, anything else must match exactly (case
 * insensitive, a trailing dot ignored). A value that is not a host name (`a@b`, spaces, a path) never matches.
 * Example: `hostAllowed('api.shop.example:443', ['.shop.example'])` → true.
 */
export function hostAllowed(host: string | undefined, allowed: readonly string[]): boolean {
  const match = HOST_AND_PORT.exec((host ?? '').toLowerCase());
  if (!match) {
    return false;
  }
  const name = match[1].endsWith('.') ? match[1].slice(0, -1) : match[1];
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    return p === '*' || p === name || (p.startsWith('.') && (name.endsWith(p) || name === p.slice(1)));
  });
}

/**
 * Refuses, with a 400 problem, every request whose Host (or X-Forwarded-Host from a trusted proxy) names no
 * allowed host, before routing: a poisoned Host then reaches no handler, cache or log-built link. The body
 * does not echo the value; the log line has it (truncated). Example: `refuseDisallowedHosts(fastify,
 * config.allowedHosts, PinoLogger.root)`.
 */
export function refuseDisallowedHosts(
  fastify: FastifyInstance,
  allowed: readonly string[],
  logger: BaseLogger,
): void {
  // Also with `*`: a Host that is not a host name at all (`a@b`, a path) is refused, as in Django.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (hostAllowed(request.host, allowed)) {
      done();
      return;
    }
    // Node's own check (requireHostHeader) is off so that this answer is a problem too, as Node's is not.
    if (request.headers.host === undefined && request.raw.httpVersion !== '1.0') {
      sendProblem(request, reply, {
        type: PROBLEM_TYPES.malformedRequest,
        title: 'Bad Request',
        status: 400,
        detail: 'An HTTP/1.1 request must carry a Host header.',
      });
      return;
    }
    if (ANY_HOST_PATHS.has(pathOf(request.url))) {
      done();
      return;
    }
    logger.warn(
      { requestId: request.id, host: String(request.host).slice(0, 200) },
      'Host not in ALLOWED_HOSTS',
    );
    sendProblem(request, reply, {
      type: PROBLEM_TYPES.disallowedHost,
      title: 'Host not allowed',
      status: 400,
      detail:
        'The Host header names no host this server answers to. If this is your server, add the host to ALLOWED_HOSTS.',
    });
  });
}
