import { DynamicModule, Module } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LoggerModule } from 'nestjs-pino';
import { type BaseLogger as PinoBaseLogger, type DestinationStream, destination } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { REDACTED, redactUrl } from 'src/framework/logging/redact-url';

/** Headers that carry credentials: replaced by the serializers, and by REDACTED_PATHS in other lines. */
const SECRET_REQUEST_HEADERS = ['authorization', 'cookie', 'x-api-key', 'x-csrf-token'];
const SECRET_RESPONSE_HEADERS = ['set-cookie'];

type Headers = Record<string, unknown>;

/** `headers` with the values of `names` it has replaced by REDACTED (a copy; the same object when none). */
function censorHeaders(headers: Headers | undefined, names: readonly string[]): Headers | undefined {
  if (!headers || !names.some((name) => Object.hasOwn(headers, name))) {
    return headers;
  }
  const copy = { ...headers }; // the raw request's own object stays as it is
  for (const name of names) {
    if (Object.hasOwn(copy, name)) {
      copy[name] = REDACTED;
    }
  }
  return copy;
}

/**
 * pino-std-serializers' request, with secrets in the query replaced (redactUrl): `GET /x?token=…` is
 * logged as `GET /x?token=[redacted]`; credential headers are replaced here too (as REDACTED_PATHS does), so
 * request lines need no path redaction (see requestLines).
 */
function redactedRequest(req: { url?: string; headers?: Headers }): object {
  if (typeof req.url === 'string') {
    req.url = redactUrl(req.url);
  }
  req.headers = censorHeaders(req.headers, SECRET_REQUEST_HEADERS);
  return req;
}

/** pino-std-serializers' response (its `headers` a fresh copy), with Set-Cookie replaced. */
function redactedResponse(res: { headers?: Headers }): object {
  res.headers = censorHeaders(res.headers, SECRET_RESPONSE_HEADERS);
  return res;
}

/** Paths pino replaces with `[redacted]` wherever they appear in a log line. */
export const REDACTED_PATHS = [
  ...SECRET_REQUEST_HEADERS.map((name) => `req.headers["${name}"]`),
  ...SECRET_RESPONSE_HEADERS.map((name) => `res.headers["${name}"]`),
  'password',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  'token',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.secretKey',
  '*.apiKey',
  // TypeORM's QueryFailedError carries the query's parameters: hashes, tokens' digests, personal data.
  'err.parameters',
];

/** Paths whose requests are not logged: probes and scrapes would drown the log. */
const UNLOGGED_PATHS = new Set(['/health/live', '/metrics']);

/**
 * Logs one JSON line per finished request (`request completed`: the request with its id, redacted headers
 * and a URL whose secret query parameters are redacted, the response's status, the milliseconds; `error`
 * level for 5xx, like Django's `django.request`), from a Fastify hook on the root logger, whose serializers
 * are pino-http's. Not pino-http as Nest middleware: that built a child logger per request and ran the rest
 * of the request inside an AsyncLocalStorage, which makes every promise of the process pay Node 20's async
 * hooks: about a fifth of a `GET /api/products/:id`'s CPU in `npm run bench`. Lines logged while handling a
 * request carry its id themselves (the problem filter's `requestId`).
 * Example: `logRequests(fastify, PinoLogger.root)`.
 */
export function logRequests(fastify: FastifyInstance, logger: PinoBaseLogger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    logRequest(logger, request, reply);
    done();
  });
}

/**
 * Writes the request line of logRequests for one answered request; for answers sent outside the request
 * lifecycle (Fastify's router errors), which no `onResponse` hook sees.
 * Example: `reply.send(body); logRequest(PinoLogger.root, request, reply)`.
 */
export function logRequest(logger: PinoBaseLogger, request: FastifyRequest, reply: FastifyReply): void {
  if (UNLOGGED_PATHS.has(request.url)) {
    return;
  }
  // pino's request serializer reads the id from the raw request, where pino-http used to put it.
  const req = Object.assign(request.raw, { id: request.id });
  const line = { req, res: reply.raw, responseTime: Math.round(reply.elapsedTime) };
  const lines = requestLines(logger);
  if (reply.statusCode >= 500) {
    lines.error(line, 'request completed');
  } else {
    lines.info(line, 'request completed');
  }
}

const lineLoggers = new WeakMap<PinoBaseLogger, PinoBaseLogger>();

/**
 * The logger of request lines: `logger` without path redaction. A line holds only the serialized `req` and
 * `res`, whose credential headers the serializers already replaced (redactedRequest, redactedResponse), and
 * no other path of REDACTED_PATHS can occur in it; pino's redaction of those paths (wildcards included)
 * cloned parts of every line: about a tenth of a `GET /api/products/:id`'s CPU in `npm run bench`.
 */
function requestLines(logger: PinoBaseLogger): PinoBaseLogger {
  let lines = lineLoggers.get(logger);
  if (!lines) {
    const withChild = logger as PinoBaseLogger & {
      child?: (bindings: object, options: { redact: { paths: string[] } }) => PinoBaseLogger;
    };
    lines = withChild.child ? withChild.child({}, { redact: { paths: [] } }) : logger;
    lineLoggers.set(logger, lines);
  }
  return lines;
}

/**
 * The root logger's options (nestjs-pino builds it with pino-http, whose serializers logRequests relies on).
 * Example: `pinoHttp(loggerOptions(config)).logger.info('hello')`.
 */
export function loggerOptions(config: NestorConfig): PinoHttpOptions {
  return {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    // pino-http wraps it: it receives the standard serializer's output, not the raw request.
    serializers: { req: redactedRequest, res: redactedResponse },
    transport:
      config.nodeEnv === 'development' && process.stdout.isTTY
        ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } }
        : undefined,
  };
}

/**
 * Where JSON log lines go: standard output (or `dest`), written before the logging call returns, as Node
 * writes `console.log` to a pipe or file on Linux. pino's default writes later, from a thread: a crash or
 * SIGKILL lost the lines not yet written, and each line cost the process about 17 µs of CPU against 4 for a
 * direct write (more than the write itself: the thread's wake-up). A reader that stops reading the pipe then
 * holds the process, as it would hold `console.log`.
 * Example: `pino({}, logDestination()).info('written when this returns')`.
 */
export function logDestination(dest: number | string = 1): DestinationStream {
  return destination({ dest, sync: true });
}

/** nestjs-pino's `pinoHttp`: the root logger's options, and logDestination unless a transport prints them. */
function pinoHttpParams(config: NestorConfig): PinoHttpOptions | [PinoHttpOptions, DestinationStream] {
  const options = loggerOptions(config);
  return options.transport ? options : [options, logDestination()];
}

/**
 * JSON logs through nestjs-pino (pretty in development) for Nest's `Logger`; the request lines are
 * logRequests', registered by createNestorApp.
 */
@Module({})
export class LoggingModule {
  static forRoot(config: NestorConfig): DynamicModule {
    return {
      module: LoggingModule,
      // No per-request middleware (see logRequests): nestjs-pino only provides the application logger.
      imports: [LoggerModule.forRoot({ forRoutes: [], pinoHttp: pinoHttpParams(config) })],
    };
  }
}
