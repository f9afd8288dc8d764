import { MAIL_TEMPLATES, escapeHtml, html, htmlDocument, renderMail } from 'src/framework/mail/templates';

describe('mail templates', () => {
  it('escapes the five HTML metacharacters, and only those', () => {
    expect(escapeHtml(`<script>alert("x" + 'y')</script> & café`)).toBe(
      '&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;)&lt;/script&gt; &amp; café',
    );
    expect(escapeHtml(42)).toBe('42');
  });

  it('html`…` escapes interpolations, keeps nested html, joins arrays and drops null/undefined', () => {
    const names = ['<b>', 'a & b'];
    const tag = html; // not named `html`: prettier would reformat the markup under test
    const items = tag`<ul>${names.map((n) => tag`<li>${n}</li>`)}</ul>`;
    const out = tag`${items}${null}${undefined}<p title="${'"q"'}">${0}</p>`;
    expect(out.value).toBe('<ul><li>&lt;b&gt;</li><li>a &amp; b</li></ul><p title="&quot;q&quot;">0</p>');
    expect(String(out)).toBe(out.value);
  });

  it('escapes the title of the document frame', () => {
    expect(htmlDocument('<x>', html`<p>ok</p>`)).toContain('<title>&lt;x&gt;</title>');
  });

  it('renders every auth template to text and escaped HTML', () => {
    const hostile = 'https://shop.example/?a=1&b=<script>';
    const verify = renderMail('auth.verify-email', { link: hostile, token: 'TOKEN', endpoint: hostile });
    expect(verify.subject).toBe('Confirm your email address');
    expect(verify.text).toContain(hostile);
    expect(verify.text).toMatch(/^TOKEN$/m);
    expect(verify.html).toContain('href="https://shop.example/?a=1&amp;b=&lt;script&gt;"');
    expect(verify.html).not.toContain('<script>');

    const reset = renderMail('auth.password-reset', { token: 'T<1>', endpoint: 'https://x/reset' });
    expect(reset.text).toMatch(/^T<1>$/m);
    expect(reset.html).toContain('<code>T&lt;1&gt;</code>');

    for (const name of ['auth.already-registered', 'auth.password-changed'] as const) {
      const mail = renderMail(name, { forgotEndpoint: 'https://x/forgot?<y>' });
      expect(mail.text).toContain('https://x/forgot?<y>');
      expect(mail.html).toContain('https://x/forgot?&lt;y&gt;');
    }
    for (const change of ['enabled', 'disabled', 'recovery-codes'] as const) {
      const mail = renderMail('auth.2fa-changed', {
        change,
        forgotEndpoint: 'https://x/forgot?<y>',
        sessionsEndpoint: 'https://x/sessions',
      });
      expect(mail.text).toContain('POST https://x/forgot?<y>');
      expect(mail.text).toContain('GET https://x/sessions');
      expect(mail.html).toContain('https://x/forgot?&lt;y&gt;');
    }
    expect(
      (['enabled', 'disabled', 'recovery-codes'] as const).map(
        (change) =>
          renderMail('auth.2fa-changed', { change, forgotEndpoint: '', sessionsEndpoint: '' }).subject,
      ),
    ).toEqual([
      'Two-factor authentication was turned on',
      'Two-factor authentication was turned off',
      'New recovery codes were created',
    ]);
    const moved = renderMail('auth.email-changed', {
      newEmail: '<new@example.com>',
      forgotEndpoint: 'https://x/forgot',
    });
    expect(moved.subject).toBe('Your email address was changed');
    expect(moved.text).toContain('changed to <new@example.com>;');
    expect(moved.html).toContain('changed to &lt;new@example.com&gt;;');
    expect(Object.keys(MAIL_TEMPLATES).sort()).toEqual([
      'auth.2fa-changed',
      'auth.already-registered',
      'auth.email-changed',
      'auth.password-changed',
      'auth.password-reset',
      'auth.verify-email',
    ]);
  });
});
