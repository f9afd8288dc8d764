import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type * as Nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { EntityManager } from 'typeorm';
import { Keyring } from 'src/framework/crypto/secret-box';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { type MailTemplateData, type MailTemplateName, renderMail } from 'src/framework/mail/templates';
import { lazyModule } from 'src/framework/lazy-module';

const nodemailer = lazyModule<typeof Nodemailer>('nodemailer');

/**
 * A message to send: plain text always (every client shows it), HTML optionally.
 * Example: `await mail.send({ to: 'a@b.c', subject: 'Hello', text: 'Hi' })`.
 */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** A message rendered from one of the framework's templates when the `mail.send` job runs. */
export interface TemplateMail<N extends MailTemplateName = MailTemplateName> {
  to: string;
  template: N;
  data: MailTemplateData<N>;
}

/** What a `mail.send` job carries: the recipient in clear (for inspection), the message sealed. */
export interface SealedMail {
  to: string;
  sealed: string;
}

/** The job that sends queued mail (src/framework/mail/mail.jobs.ts). */
export const MAIL_SEND_JOB = 'mail.send';

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
  private transport?: Transporter<{ messageId: string }>;
  private readonly kept: SentMail[] = [];
  /** Whether messages really leave the process (an SMTP server is configured). */
  readonly delivers: boolean;
  private readonly keys: Keyring;

  constructor(
    private readonly config: NestorConfig,
    private readonly jobs: JobsService,
  ) {
    this.delivers = config.smtpUrl !== undefined;
    // Fallback keys open mail queued before a SECRET_KEY rotation.
    this.keys = new Keyring('mail', config.secretKey, config.secretKeyFallbacks);
    if (!this.delivers && config.nodeEnv === 'production') {
      this.logger.warn('SMTP_URL is not set: mail is only logged, never delivered.');
    }
  }

  /** Built on the first message: most processes never send one. */
  private transporter(): Transporter<{ messageId: string }> {
    const { createTransport } = nodemailer();
    // jsonTransport builds the full message (addresses, headers checked) without any network I/O.
    this.transport ??= this.config.smtpUrl
      ? createTransport(this.config.smtpUrl)
      : createTransport({ jsonTransport: true });
    return this.transport;
  }

  /**
   * Sends one message from `MAIL_FROM` and logs it; rejects when the server refuses it. Returns its
   * Message-ID: `options.messageId` (see {@link messageId}), or one nodemailer makes up.
   */
  async send(message: MailMessage, options: SendOptions = {}): Promise<string> {
    const messageId = await this.deliver(message, options);
    this.logSent(message, messageId);
    return messageId;
  }

  /**
   * {@link send} without the log line, for a caller that records the delivery right after the server's
   * answer (the `mail.send` job): nothing else should run in between.
   */
  async deliver(message: MailMessage, options: SendOptions = {}): Promise<string> {
    const from = this.config.mailFrom;
    const info = await this.transporter().sendMail({ from, ...message, messageId: options.messageId });
    if (!this.delivers) {
      this.kept.push({ ...message, from, messageId: info.messageId, sentAt: new Date() });
      if (this.kept.length > KEPT_MAILS) {
        this.kept.splice(0, this.kept.length - KEPT_MAILS);
      }
    }
    return info.messageId;
  }

  /** The log line of a sent message (the full text when it was not delivered, so links can be followed). */
  logSent(message: MailMessage, messageId: string): void {
    if (this.delivers) {
      this.logger.log(`Sent "${message.subject}" to ${message.to} (${messageId})`);
    } else {
      this.logger.log(`Not delivered (no SMTP_URL): "${message.subject}" to ${message.to}\n${message.text}`);
    }
  }

  /**
   * A Message-ID on MAIL_FROM's domain (RFC 5322 `<id@domain>`) for a stable identifier: every copy of a
   * message sent again (a redelivered job) carries the same one, so mail clients show it once.
   * Example: `mail.messageId('3f2c….a1b2')` → `<3f2c….a1b2@shop.example>`.
   */
  messageId(id: string): string {
    const domain = /@([^\s@<>]+)>?\s*$/.exec(this.config.mailFrom)?.[1] ?? 'nestor.local';
    return `<${id}@${domain}>`;
  }

  /**
   * Sends a message through the `mail.send` job: retried with backoff, sent once per job however often it
   * is delivered. Given `manager` inside a transaction, the job is enqueued in it and published only after
   * commit (a rollback sends nothing). Returns the job id.
   *
   * The message is rendered now and sealed (AES-GCM, key derived from SECRET_KEY): reset and verification
   * links never sit readable in the outbox, the queue or the jobs API. Only the recipient stays visible.
   *
   * Example: `await this.mail.queue({ to, subject: 'Hi', text: 'Hello!' }, manager)`.
   */
  queue(message: MailMessage | TemplateMail, manager?: EntityManager): Promise<string> {
    return this.jobs.enqueue(MAIL_SEND_JOB, this.seal(renderMessage(message)), {}, manager);
  }

  /** The `mail.send` payload of a message: the recipient, and the rest encrypted. */
  seal({ to, ...content }: MailMessage): SealedMail {
    return { to, sealed: this.keys.seal(JSON.stringify(content), `mail:${to}`) };
  }

  /** The message a `mail.send` payload carries; throws when it was altered or sealed with another key. */
  open({ to, sealed }: SealedMail): MailMessage {
    return { to, ...(JSON.parse(this.keys.open(sealed, `mail:${to}`).plaintext) as Omit<MailMessage, 'to'>) };
  }

  /**
   * The last messages of the development transport, oldest first (always empty with SMTP: delivered
   * mail, tokens included, is not kept in memory). Example: `t.app.get(MailService).sent().at(-1)?.text`.
   */
  sent(): SentMail[] {
    return this.kept.map((mail) => ({ ...mail }));
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }
}

/** How to send a message. */
export interface SendOptions {
  /** The Message-ID header (`<id@domain>`, see `MailService.messageId`); nodemailer makes one up without it. */
  messageId?: string;
}

/** A template mail rendered to a message; a message as is. */
export function renderMessage(message: MailMessage | TemplateMail): MailMessage {
  if (!('template' in message)) {
    return message;
  }
  return { to: message.to, ...renderMail(message.template, message.data) };
}
