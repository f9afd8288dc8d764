import { DynamicModule, Module } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { LoggerModule } from 'nestjs-pino';
import type { BaseLogger as PinoBaseLogger } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import { NestorConfig } from 'src/framework/config/nestor-config';

/** Paths pino replaces with `[redacted]` wherever they appear in a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
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
];

/** Paths whose requests are not logged: probes and scrapes would drown the log. */
const UNLOGGED_PATHS = new Set(['/health/live', '/metrics']);

/**
 * Logs one JSON line per finished request (`request completed`: the request with its id and redacted
 * headers, the response's status, the milliseconds; `error` level for 5xx, like Django's
 * `django.request`), from a Fastify hook on the root logger, whose serializers are pino-http's. Not pino-http
 * as Nest middleware: that built a child logger per request and ran the rest of the request inside an
 * AsyncLocalStorage, which makes every promise of the process pay Node 20's async hooks: about a fifth of a
 * `GET /api/products/:id`'s CPU in `npm run bench`. Lines logged while handling a request carry its id
 * themselves (the problem filter's `requestId`).
 * Example: `logRequests(fastify, PinoLogger.root)`.
 */
export function logRequests(fastify: FastifyInstance, logger: PinoBaseLogger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    if (!UNLOGGED_PATHS.has(request.url)) {
      // pino's request serializer reads the id from the raw request, where pino-http used to put it.
      const req = Object.assign(request.raw, { id: request.id });
      const line = { req, res: reply.raw, responseTime: Math.round(reply.elapsedTime) };
      if (reply.statusCode >= 500) {
        logger.error(line, 'request completed');
      } else {
        logger.info(line, 'request completed');
      }
    }
    done();
  });
}

/**
 * The root logger's options (nestjs-pino builds it with pino-http, whose serializers logRequests relies on).
 * Example: `pinoHttp(loggerOptions(config)).logger.info('hello')`.
 */
export function loggerOptions(config: NestorConfig): PinoHttpOptions {
  return {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    transport:
      config.nodeEnv === 'development' && process.stdout.isTTY
        ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } }
        : undefined,
  };
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
      imports: [LoggerModule.forRoot({ forRoutes: [], pinoHttp: loggerOptions(config) })],
    };
  }
}
