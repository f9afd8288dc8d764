import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { NestorConfig } from 'src/framework/config/nestor-config';

/** A message to send: plain text always (every client shows it), HTML optionally. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** A message the development transport handled, as `MailService.sent()` returns it. */
export interface SentMail extends MailMessage {
  from: string;
  messageId: string;
  sentAt: Date;
}

/** How many messages the development transport keeps: enough for tests, bounded for long dev sessions. */
export const KEPT_MAILS = 50;

/**
 * Sends mail through nodemailer. `SMTP_URL` set → that server; unset → a development transport that
 * delivers nothing, logs each message (links and tokens included, so a developer can follow them) and keeps
 * the last {@link KEPT_MAILS} for tests.
 * Example: `await this.mail.send({ to: user.email, subject: 'Welcome', text: 'Hello!' })`.
 */
@Injectable()
export class MailService implements OnApplicationShutdown {
  private readonly logger = new Logger('Mail');
  private readonly transport: Transporter<{ messageId: string }>;
  private readonly kept: SentMail[] = [];
  /** Whether messages really leave the process (an SMTP server is configured). */
  readonly delivers: boolean;

  constructor(private readonly config: NestorConfig) {
    this.delivers = config.smtpUrl !== undefined;
    // jsonTransport builds the full message (addresses, headers checked) without any network I/O.
    this.transport = config.smtpUrl
      ? createTransport(config.smtpUrl)
      : createTransport({ jsonTransport: true });
    if (!this.delivers && config.nodeEnv === 'production') {
      this.logger.warn('SMTP_URL is not set: mail is only logged, never delivered.');
    }
  }

  /** Sends one message from `MAIL_FROM`; rejects when the server refuses it. */
  async send(message: MailMessage): Promise<void> {
    const from = this.config.mailFrom;
    const info = await this.transport.sendMail({ from, ...message });
    if (this.delivers) {
      this.logger.log(`Sent "${message.subject}" to ${message.to} (${info.messageId})`);
      return;
    }
    this.logger.log(`Not delivered (no SMTP_URL): "${message.subject}" to ${message.to}\n${message.text}`);
    this.kept.push({ ...message, from, messageId: info.messageId, sentAt: new Date() });
    if (this.kept.length > KEPT_MAILS) {
      this.kept.splice(0, this.kept.length - KEPT_MAILS);
    }
  }

  /**
   * The last messages of the development transport, oldest first (always empty with SMTP: delivered
   * mail, tokens included, is not kept in memory). Example: `t.app.get(MailService).sent().at(-1)?.text`.
   */
  sent(): SentMail[] {
    return this.kept.map((mail) => ({ ...mail }));
  }

  onApplicationShutdown(): void {
    this.transport.close();
  }
}
