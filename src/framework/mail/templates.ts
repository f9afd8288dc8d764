/**
 * What a template renders: everything of a `MailMessage` but its recipient (spelled out here, so the
 * templates do not import the service that renders them).
 */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** A typed mail template: a plain function from its data to subject, text and HTML. */
export type MailTemplate<D> = (data: D) => RenderedMail;

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** HTML that {@link html} inserts as is: the result of a nested `html` template, never raw input. */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

/**
 * A tagged template that escapes every interpolated value, except nested `html` results; arrays are joined.
 * Example: html`<p>Hello ${user.name}</p><ul>${items.map((i) => html`<li>${i.name}</li>`)}</ul>`.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  const part = (value: unknown): string =>
    value instanceof SafeHtml
      ? value.value
      : Array.isArray(value)
        ? value.map(part).join('')
        : value === null || value === undefined
          ? ''
          : escapeHtml(value);
  return new SafeHtml(
    strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ''), ''),
  );
}

/**
 * The common frame of every HTML mail: one simple, inline-styled document.
 * Example: ``htmlDocument('Thanks', html`<p>Order ${id} is placed.</p>`)``.
 */
export function htmlDocument(title: string, body: SafeHtml): string {
  return html`<!doctype html>
    <html>
      <head>
        <meta charset="utf-8" />
        <title>${title}</title>
      </head>
      <body style="font-family: sans-serif; line-height: 1.5">
        ${body}
      </body>
    </html>`.value;
}

/** Text and HTML paragraphs from the same lines; empty strings separate paragraphs in text. */
function both(subject: string, paragraphs: (string | SafeHtml)[], textLines: string[]): RenderedMail {
  return {
    subject,
    text: textLines.join('\n'),
    html: htmlDocument(subject, html`${paragraphs.map((p) => html`<p>${p}</p>`)}`),
  };
}

/** What changed in a user's two-factor authentication, for the `auth.2fa-changed` mail (ASVS V2.5.5). */
export type TwoFactorChange = 'enabled' | 'disabled' | 'recovery-codes';

interface TwoFactorChangeMail {
  change: TwoFactorChange;
  forgotEndpoint: string;
  sessionsEndpoint: string;
}

const TWO_FACTOR_CHANGES: Record<TwoFactorChange, { subject: string; what: string }> = {
  enabled: {
    subject: 'Two-factor authentication was turned on',
    what: 'Two-factor authentication was just turned on for your account.',
  },
  disabled: {
    subject: 'Two-factor authentication was turned off',
    what: 'Two-factor authentication was just turned off for your account: the password alone now signs in.',
  },
  'recovery-codes': {
    subject: 'New recovery codes were created',
    what: 'New two-factor recovery codes were just created for your account; the earlier ones work no more.',
  },
};

/** The framework's own mails (accounts). Apps define theirs next to their code with {@link html}. */
export const MAIL_TEMPLATES = {
  'auth.verify-email': ({ link, token, endpoint }: { link: string; token: string; endpoint: string }) =>
    both(
      'Confirm your email address',
      [
        html`Confirm your email address by opening <a href="${link}">this link</a>.`,
        html`Or send this token to POST ${endpoint} as {"token": "&lt;token&gt;"}: <code>${token}</code>`,
        'The link works once and expires in 48 hours. If you did not create an account, ignore this message.',
      ],
      [
        'Confirm your email address by opening this link:',
        '',
        link,
        '',
        `Or send the token to POST ${endpoint} as {"token": "<token>"}:`,
        '',
        token,
        '',
        'The link works once and expires in 48 hours. If you did not create an account, ignore this message.',
      ],
    ),
  'auth.already-registered': ({ forgotEndpoint }: { forgotEndpoint: string }) =>
    both(
      'You already have an account',
      [
        'Someone, perhaps you, tried to create an account with this address, which already has one. Nothing was changed.',
        html`If it was you, log in with your password, or reset a forgotten password through POST
        ${forgotEndpoint}. If not, ignore this message.`,
      ],
      [
        'Someone, perhaps you, tried to create an account with this address, which already has one.',
        'Nothing was changed.',
        '',
        'If it was you, log in with your password, or reset a forgotten password through',
        `POST ${forgotEndpoint}. If not, ignore this message.`,
      ],
    ),
  'auth.password-reset': ({ token, endpoint }: { token: string; endpoint: string }) =>
    both(
      'Reset your password',
      [
        'Someone asked to reset the password of your account.',
        html`To choose a new one, send this token and your new password to POST ${endpoint} as {"token":
          "&lt;token&gt;", "password": "&lt;new password&gt;"}: <code>${token}</code>`,
        'The token works once and expires in 1 hour. If you did not ask for this, ignore this message: your password stays unchanged.',
      ],
      [
        'Someone asked to reset the password of your account.',
        '',
        `To choose a new one, send this token and your new password to POST ${endpoint}`,
        'as {"token": "<token>", "password": "<new password>"}:',
        '',
        token,
        '',
        'The token works once and expires in 1 hour.',
        'If you did not ask for this, ignore this message: your password stays unchanged.',
      ],
    ),
  'auth.password-changed': ({ forgotEndpoint }: { forgotEndpoint: string }) =>
    both(
      'Your password was changed',
      [
        'The password of your account was just changed, and your other sessions were signed out.',
        html`If this was not you, reset your password at once through POST ${forgotEndpoint}.`,
      ],
      [
        'The password of your account was just changed, and your other sessions were signed out.',
        '',
        'If this was not you, reset your password at once through',
        `POST ${forgotEndpoint}.`,
      ],
    ),
  'auth.email-changed': ({ newEmail, forgotEndpoint }: { newEmail: string; forgotEndpoint: string }) =>
    both(
      'Your email address was changed',
      [
        html`The email address of your account was changed to ${newEmail}; mail for the account goes there
        now.`,
        html`If you did not ask for this, answer this message or contact the site at once: whoever reads the
        new address can reset the password through POST ${forgotEndpoint}.`,
      ],
      [
        `The email address of your account was changed to ${newEmail};`,
        'mail for the account goes there now.',
        '',
        'If you did not ask for this, answer this message or contact the site at once: whoever reads',
        `the new address can reset the password through POST ${forgotEndpoint}.`,
      ],
    ),
  'auth.2fa-changed': ({ change, forgotEndpoint, sessionsEndpoint }: TwoFactorChangeMail) => {
    const { subject, what } = TWO_FACTOR_CHANGES[change];
    const ifNotYou = 'If this was not you, someone knows your password: reset it at once through';
    return both(
      subject,
      [
        what,
        html`${ifNotYou} POST ${forgotEndpoint}, then review and end your sessions at GET ${sessionsEndpoint}.`,
      ],
      [
        what,
        '',
        ifNotYou,
        `POST ${forgotEndpoint}, then review and end your sessions at`,
        `GET ${sessionsEndpoint}.`,
      ],
    );
  },
} satisfies Record<string, MailTemplate<never>>;

export type MailTemplateName = keyof typeof MAIL_TEMPLATES;
export type MailTemplateData<N extends MailTemplateName> = Parameters<(typeof MAIL_TEMPLATES)[N]>[0];

/** Renders one of {@link MAIL_TEMPLATES}. Example: `renderMail('auth.password-changed', { forgotEndpoint })`. */
export function renderMail<N extends MailTemplateName>(name: N, data: MailTemplateData<N>): RenderedMail {
  return (MAIL_TEMPLATES[name] as MailTemplate<MailTemplateData<N>>)(data);
}
