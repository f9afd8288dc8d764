import type { INestApplicationContext } from '@nestjs/common';
import { MailService, type SentMail } from 'src/framework/mail/mail.service';

/**
 * Which messages to look for: each given field must match (a string exactly, ignoring case for `to`).
 * Example: `{ to: 'ada@example.com', subject: /^Your order #\d+$/, text: 'Total: 20.00' }`.
 */
export interface MailQuery {
  to?: string | RegExp;
  subject?: string | RegExp;
  /** A string is looked for inside the text; a RegExp is tested against it. */
  text?: string | RegExp;
}

/**
 * The development transport's outbox (no `SMTP_URL`): what the app "sent", after its queued mail jobs ran.
 * Example: `const mail = await t.mail.expectSent({ to: 'ada@example.com', subject: /Reset/ })`.
 */
export interface TestMailbox {
  /** Messages sent since the app started (or since `clear()`), oldest first, optionally filtered. */
  outbox(query?: MailQuery): Promise<SentMail[]>;
  /**
   * The latest message matching `query`; throws a readable error listing what was sent otherwise.
   * Example: `expect((await t.mail.expectSent({ subject: 'Welcome' })).text).toContain('Hello')`.
   */
  expectSent(query: MailQuery): Promise<SentMail>;
  /** Throws (listing the matches) when a message matching `query` was sent. */
  expectNotSent(query: MailQuery): Promise<void>;
  /** Forgets what was sent so far (after running queued mail jobs, so none arrives late). */
  clear(): Promise<void>;
}

function matches(mail: SentMail, query: MailQuery): boolean {
  const test = (value: string, wanted: string | RegExp | undefined, exact: boolean, ignoreCase = false) => {
    if (wanted === undefined) {
      return true;
    }
    if (wanted instanceof RegExp) {
      return wanted.test(value);
    }
    const [a, b] = ignoreCase ? [value.toLowerCase(), wanted.toLowerCase()] : [value, wanted];
    return exact ? a === b : a.includes(b);
  };
  return (
    test(mail.to, query.to, true, true) &&
    test(mail.subject, query.subject, true) &&
    test(mail.text, query.text, false)
  );
}

function describeQuery(query: MailQuery): string {
  const parts = Object.entries(query)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key} ${value instanceof RegExp ? String(value) : JSON.stringify(value)}`);
  return parts.length ? parts.join(', ') : 'any message';
}

function listing(mails: SentMail[]): string {
  if (mails.length === 0) {
    return 'Nothing was sent.';
  }
  return `Sent (${mails.length}):\n${mails.map((m) => `  - to ${m.to}: ${JSON.stringify(m.subject)}`).join('\n')}`;
}

/**
 * The mailbox `createTestApp()` gives as `t.mail`; `settle` runs the queued jobs first.
 * Example: `const mail = createTestMailbox(app, () => app.get(JobsService).drain())`.
 */
export function createTestMailbox(app: INestApplicationContext, settle: () => Promise<void>): TestMailbox {
  const cleared = new Set<string>();
  const sent = async (): Promise<SentMail[]> => {
    await settle();
    const mail = app.get(MailService);
    if (mail.delivers) {
      throw new Error(
        'NST-T002 t.mail reads the development transport, but SMTP_URL is set: mail went to that server ' +
          '(read it there, e.g. test/support/smtp.ts)',
      );
    }
    return mail.sent().filter((m) => !cleared.has(m.messageId));
  };
  const mailbox: TestMailbox = {
    outbox: async (query = {}) => (await sent()).filter((m) => matches(m, query)),
    expectSent: async (query) => {
      const all = await sent();
      const found = all.filter((m) => matches(m, query)).at(-1);
      if (!found) {
        throw new Error(`Expected a mail with ${describeQuery(query)}. ${listing(all)}`);
      }
      return found;
    },
    expectNotSent: async (query) => {
      const found = await mailbox.outbox(query);
      if (found.length > 0) {
        throw new Error(`Expected no mail with ${describeQuery(query)}. ${listing(found)}`);
      }
    },
    clear: async () => {
      (await sent()).forEach((m) => cleared.add(m.messageId));
    },
  };
  return mailbox;
}
