import type { LoggerService } from '@nestjs/common';

/**
 * Nest's boot chatter: one line per module (InstanceLoader), per controller (RoutesResolver) and per route
 * (RouterExplorer), about 150 for the example shop, plus the start and "successfully started" lines the
 * Nestor banner replaces.
 */
export const BOOT_CONTEXTS: ReadonlySet<string> = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
]);

/**
 * Nest's logger for Nestor processes: passes everything to `inner` (nestjs-pino's Logger) except Nest's
 * boot chatter (BOOT_CONTEXTS), which it logs at `debug`, so `LOG_LEVEL=debug` still shows every module
 * and route while the default level shows the banner only.
 * Example: `app.useLogger(new NestorLogger(app.get(Logger)))`.
 */
export class NestorLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && BOOT_CONTEXTS.has(context) && this.inner.debug) {
      this.inner.debug(message, ...optionalParams);
    } else {
      this.inner.log(message, ...optionalParams);
    }
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.error(message, ...optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.warn(message, ...optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.debug?.(message, ...optionalParams);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.verbose?.(message, ...optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    (this.inner.fatal ?? this.inner.error).call(this.inner, message, ...optionalParams);
  }
}
