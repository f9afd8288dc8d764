import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A message as the SMTP server received it, with its text (and HTML, when sent) decoded. */
export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  /** The Message-ID header as sent (`<id@domain>`): copies of one message share it. */
  messageId: string;
  text: string;
  html?: string;
}

/** RFC 2045 quoted-printable: soft line breaks and =XX escapes (nodemailer uses it for long lines). */
function decodeQuotedPrintable(body: string): string {
  const bytes = body
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

interface Part {
  header(name: string): string;
  body: string;
}

function splitPart(raw: string): Part {
  const split = raw.indexOf('\r\n\r\n');
  const headerText = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' '); // unfold
  return {
    header: (name) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(headerText)?.[1].trim() ?? '',
    body: raw.slice(split + 4),
  };
}

function decodeBody(part: Part): string {
  const encoding = part.header('Content-Transfer-Encoding').toLowerCase();
  const decoded =
    encoding === 'quoted-printable'
      ? decodeQuotedPrintable(part.body)
      : encoding === 'base64'
        ? Buffer.from(part.body, 'base64').toString('utf8')
        : part.body;
  return decoded.replace(/\r\n/g, '\n');
}

/** Just enough MIME for nodemailer's messages: single-part text, or multipart/alternative text + HTML. */
export function parseMail(raw: string, recipients: string[]): ReceivedMail {
  const message = splitPart(raw);
  const mail: ReceivedMail = {
    from: message.header('From'),
    to: recipients,
    subject: message.header('Subject'),
    messageId: message.header('Message-ID'),
    text: '',
  };
  const boundary = /boundary="?([^";]+)"?/i.exec(message.header('Content-Type'))?.[1];
  if (!boundary) {
    mail.text = decodeBody(message);
    return mail;
  }
  for (const chunk of message.body.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) {
      break; // the closing delimiter
    }
    const part = splitPart(chunk.replace(/^\r\n/, '').replace(/\r\n$/, ''));
    const type = part.header('Content-Type').toLowerCase();
    if (type.startsWith('text/plain')) {
      mail.text = decodeBody(part);
    } else if (type.startsWith('text/html')) {
      mail.html = decodeBody(part);
    }
  }
  return mail;
}

/** A real SMTP server on a free port that keeps what it receives. */
export interface SmtpSink {
  port: number;
  inbox: ReceivedMail[];
  /** Takes the first message to `to` whose subject matches, waiting for it to arrive. */
  next(to: string, subject: RegExp): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export interface SmtpOptions {
  /**
   * Called once a message has been received in full, before the server answers for it: the window in
   * which a client that dies has handed over a message it will not know was accepted.
   */
  beforeAccept?: (mail: ReceivedMail) => Promise<void> | void;
}

export async function startSmtp(options: SmtpOptions = {}): Promise<SmtpSink> {
  const inbox: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        const mail = parseMail(Buffer.concat(chunks).toString('utf8'), to);
        inbox.push(mail);
        void Promise.resolve(options.beforeAccept?.(mail)).then(() => callback());
      });
    },
  });
  // A client that dies mid-session (a killed worker) must not take the test down with it.
  server.on('error', () => undefined);
  const listening = server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => listening.once('listening', resolve));
  const { port } = listening.address() as AddressInfo;
  return {
    port,
    inbox,
    async next(to, subject) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const index = inbox.findIndex((m) => m.to.includes(to) && subject.test(m.subject));
        if (index >= 0) {
          return inbox.splice(index, 1)[0];
        }
        if (Date.now() > deadline) {
          throw new Error(`No mail "${String(subject)}" to ${to}; inbox: ${JSON.stringify(inbox)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(resolve)),
  };
}
