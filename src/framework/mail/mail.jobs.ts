import { Injectable } from '@nestjs/common';
import { IsEmail, IsIn, IsObject, IsOptional, IsString, MaxLength, ValidateIf } from 'class-validator';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { MAIL_SEND_JOB, MailMessage, MailService, renderMessage } from 'src/framework/mail/mail.service';
import { MAIL_TEMPLATES, MailTemplateName } from 'src/framework/mail/templates';

/**
 * A queued message: either rendered (`subject`, `text`, optional `html`) or one of the framework's
 * templates (`template` + `data`, rendered when the job runs).
 */
export class MailPayload {
  @IsEmail()
  to!: string;

  @ValidateIf((p: MailPayload) => p.template === undefined)
  @IsString()
  @MaxLength(500)
  subject?: string;

  @ValidateIf((p: MailPayload) => p.template === undefined)
  @IsString()
  text?: string;

  @IsOptional()
  @IsString()
  html?: string;

  @IsOptional()
  @IsIn(Object.keys(MAIL_TEMPLATES))
  template?: MailTemplateName;

  @ValidateIf((p: MailPayload) => p.template !== undefined)
  @IsObject()
  data?: Record<string, unknown>;
}

/** Sends queued mail: `MailService.queue` enqueues this job. */
@Injectable()
export class MailJobs {
  constructor(private readonly mail: MailService) {}

  /**
   * Sends the message once per job id, however often the job is delivered: the effect key and the send
   * share a transaction, so a failed send is retried; only a crash between the SMTP server's answer and
   * the commit could send twice.
   */
  @Job(MAIL_SEND_JOB, { payload: MailPayload, attempts: 5, backoff: 5000 })
  async send(payload: MailPayload, context: JobContext): Promise<void> {
    const message: MailMessage = renderMessage(
      payload.template
        ? { to: payload.to, template: payload.template, data: payload.data as never }
        : { to: payload.to, subject: payload.subject!, text: payload.text!, html: payload.html },
    );
    await context.once(`mail:${context.jobId}`, () => this.mail.send(message));
  }
}
