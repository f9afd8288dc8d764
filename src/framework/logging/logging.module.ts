import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { requestIdOf } from 'src/framework/http/request-id';

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

/** JSON logs through nestjs-pino (pretty in development), one line per request with its request id. */
@Module({})
export class LoggingModule {
  static forRoot(config: NestorConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          // nestjs-pino's default route pattern ('{/*splat}') matches nothing under Nest 12's Fastify adapter.
          forRoutes: [{ path: '*splat', method: RequestMethod.ALL }],
          pinoHttp: {
            level: config.logLevel,
            genReqId: (req) => requestIdOf(req),
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
            autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
            transport:
              config.nodeEnv === 'development' && process.stdout.isTTY
                ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } }
                : undefined,
          },
        }),
      ],
    };
  }
}
