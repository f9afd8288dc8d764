import { Logger } from '@nestjs/common';
import { AbstractLogger, LogLevel, LogMessage } from 'typeorm';

/** Sends TypeORM's own messages (migrations, warnings) to the application logger. */
export class TypeOrmLogger extends AbstractLogger {
  private readonly logger = new Logger('TypeORM');

  protected writeLog(
    level: LogLevel,
    message: LogMessage | string | number | (LogMessage | string | number)[],
  ): void {
    for (const entry of Array.isArray(message) ? message : [message]) {
      const text = typeof entry === 'object' ? String(entry.message) : String(entry);
      if (level === 'warn') {
        this.logger.warn(text);
      } else if (level === 'error') {
        this.logger.error(text);
      } else {
        this.logger.log(text);
      }
    }
  }
}
