import { Global, Module } from '@nestjs/common';
import { MailJobs } from 'src/framework/mail/mail.jobs';
import { MailService } from 'src/framework/mail/mail.service';

/**
 * Makes {@link MailService} injectable everywhere (imported once by NestorModule), with the `mail.send` job.
 * Example: `constructor(private readonly mail: MailService) {}`.
 */
@Global()
@Module({ providers: [MailService, MailJobs], exports: [MailService] })
export class MailModule {}
