import { Logger } from '@nestjs/common';
import type { NestorConfig } from 'src/framework/config/nestor-config';
import type { JobsService } from 'src/framework/jobs/jobs.service';
import { KEPT_MAILS, MailService } from 'src/framework/mail/mail.service';

function devMail(
  nodeEnv: NestorConfig['nodeEnv'] = 'test',
  secretKey = 'k'.repeat(40),
  secretKeyFallbacks: string[] = [],
): MailService {
  const config: Pick<NestorConfig, 'smtpUrl' | 'mailFrom' | 'nodeEnv' | 'secretKey' | 'secretKeyFallbacks'> =
    {
      smtpUrl: undefined,
      mailFrom: 'Shop <shop@example.com>',
      nodeEnv,
      secretKey: secretKey,
      secretKeyFallbacks,
    };
  // The unit tests send directly and seal/open payloads; queueing (the job) is covered end to end.
  return new MailService(config as NestorConfig, {} as JobsService);
}

describe('MailService without SMTP_URL (development transport)', () => {
  let log: jest.SpyInstance;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('keeps each message, from MAIL_FROM, and logs it with its text', async () => {
    const mail = devMail();
    await mail.send({ to: 'ada@example.com', subject: 'Hello', text: 'Link: http://x/?token=abc' });
    expect(mail.delivers).toBe(false);
    expect(mail.sent()).toEqual([
      {
        from: 'Shop <shop@example.com>',
        to: 'ada@example.com',
        subject: 'Hello',
        text: 'Link: http://x/?token=abc',
        messageId: expect.stringMatching(/^<.+@.+>$/),
        sentAt: expect.any(Date),
      },
    ]);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('Link: http://x/?token=abc'));
    mail.onApplicationShutdown();
  });

  it(`keeps only the last ${KEPT_MAILS}, oldest first`, async () => {
    const mail = devMail();
    for (let i = 1; i <= KEPT_MAILS + 5; i++) {
      await mail.send({ to: 'ada@example.com', subject: `#${i}`, text: 'x', html: '<p>x</p>' });
    }
    const subjects = mail.sent().map((m) => m.subject);
    expect(subjects).toHaveLength(KEPT_MAILS);
    expect(subjects[0]).toBe('#6');
    expect(subjects.at(-1)).toBe(`#${KEPT_MAILS + 5}`);
    expect(mail.sent()[0].html).toBe('<p>x</p>');
  });

  it('hands out copies: callers cannot alter what was kept', async () => {
    const mail = devMail();
    await mail.send({ to: 'ada@example.com', subject: 'Kept', text: 'x' });
    mail.sent()[0].subject = 'changed';
    mail.sent().pop();
    expect(mail.sent().map((m) => m.subject)).toEqual(['Kept']);
  });

  it('sends with a given Message-ID, made on the domain of MAIL_FROM', async () => {
    const mail = devMail();
    const messageId = mail.messageId('job-1.abc');
    expect(messageId).toBe('<job-1.abc@example.com>');
    expect(await mail.deliver({ to: 'ada@example.com', subject: 'Id', text: 'x' }, { messageId })).toBe(
      messageId,
    );
    expect(mail.sent()[0].messageId).toBe(messageId);
    expect(log).not.toHaveBeenCalled(); // deliver() leaves the log line to its caller
    mail.onApplicationShutdown();
  });

  it('warns in production that mail is not delivered', () => {
    devMail('production');
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('SMTP_URL is not set'));
    devMail('development');
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe('MailService.seal / open (the mail.send payload)', () => {
  const message = {
    to: 'ada@example.com',
    subject: 'Reset',
    text: 'https://x/reset?token=s3cret',
    html: '<a>x</a>',
  };

  it('keeps only the recipient readable and opens to the same message', () => {
    const mail = devMail();
    const sealed = mail.seal(message);
    expect(sealed.to).toBe('ada@example.com');
    expect(JSON.stringify(sealed)).not.toContain('s3cret');
    expect(JSON.stringify(sealed)).not.toContain('Reset');
    expect(mail.open(sealed)).toEqual(message);
  });

  it('refuses a payload sealed with another SECRET_KEY, or sent to another address', () => {
    const sealed = devMail().seal(message);
    expect(() => devMail('test', 'z'.repeat(40)).open(sealed)).toThrow();
    expect(() => devMail().open({ ...sealed, to: 'eve@example.com' })).toThrow();
  });

  it('opens mail queued before a SECRET_KEY rotation while the old key is in SECRET_KEY_FALLBACKS', () => {
    const queuedBefore = devMail().seal(message);
    expect(devMail('test', 'z'.repeat(40), ['k'.repeat(40)]).open(queuedBefore)).toEqual(message);
  });
});
