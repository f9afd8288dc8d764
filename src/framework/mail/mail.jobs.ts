import { Injectable } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { IsEmail, IsString, Matches } from 'class-validator';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { MAIL_SEND_JOB, MailMessage, MailService, SealedMail } from 'src/framework/mail/mail.service';

/** A queued message: its recipient, and the rendered message sealed by `MailService.seal`. */
export class MailPayload implements SealedMail {
  @IsEmail()
  to!: string;

  @IsString()
  @Matches(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/, { message: 'sealed must be a message sealed by MailService' })
  sealed!: string;
}

/** Sends queued mail: `MailService.queue` enqueues this job. */
@Injectable()
export class MailJobs {
  constructor(private readonly mail: MailService) {}

  /**
   * Sends the message once per job id, however often the job is delivered: the effect key and the send
   * share a transaction, so a failed send is retried. Only a crash between the SMTP server's answer and the
   * commit right after it can send it again (at least once): then it is the same message, with the same
   * Message-ID (`<job id>.<hash of the job's effect key>@<MAIL_FROM's domain>`), which mail clients show
   * once.
   */
  @Job(MAIL_SEND_JOB, { payload: MailPayload, attempts: 5, backoff: 5000 })
  async send(payload: MailPayload, context: JobContext): Promise<void> {
    let message: MailMessage;
    try {
      message = this.mail.open(payload);
    } catch (error) {
      // Sealed with another SECRET_KEY, or altered: no retry can open it.
      throw new UnrecoverableError(`mail to ${payload.to} cannot be opened: ${(error as Error).message}`);
    }
    let messageId: string | undefined;
    await context.once(`mail:${context.jobId}`, async (_manager, key) => {
      // Nothing but the COMMIT follows the server's answer: logging waits until after it.
      messageId = await this.mail.deliver(message, {
        messageId: this.mail.messageId(`${context.jobId}.${key.slice(0, 16)}`),
      });
    });
    if (messageId) {
      this.mail.logSent(message, messageId);
    }
  }
}
