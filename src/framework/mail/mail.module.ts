import { Global, Module } from '@nestjs/common';
import { MailService } from 'src/framework/mail/mail.service';

/**
 * Makes {@link MailService} injectable everywhere (imported once by NestorModule).
 * Example: `constructor(private readonly mail: MailService) {}`.
 */
@Global()
@Module({ providers: [MailService], exports: [MailService] })
export class MailModule {}
