import { createHash } from 'node:crypto';
import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from 'src/framework/access/auth.decorators';

/** Where the verification mail's link points, below PUBLIC_URL; the token follows in the fragment. */
export const VERIFY_EMAIL_PAGE = '/auth/verify-email';

/**
 * Reads the token from the fragment (`#token=…`), which browsers never send to a server, so no access log,
 * proxy or analytics tool ever records it; posts it as JSON; then drops it from the address bar and the
 * history entry. On a network failure the fragment stays, so a reload tries again.
 */
const SCRIPT = `(() => {
  const status = document.getElementById('status');
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const forget = () => history.replaceState(null, '', location.pathname);
  if (!token) {
    status.textContent = 'This link has no token. Open the link from the mail again, in full.';
    return;
  }
  fetch(new URL('../api/auth/email/verify', location.href), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'omit',
  })
    .then(async (res) => {
      const body = await res.json().catch(() => ({}));
      if (res.ok) {
        forget();
        status.textContent = body.detail || 'Your email address is verified.';
      } else if (res.status < 500 && res.status !== 429) {
        forget();
        status.textContent = 'This link is invalid, expired or already used. Sign in and ask for a new one.';
      } else {
        status.textContent = 'The server could not confirm the address right now. Reload this page to try again.';
      }
    })
    .catch(() => {
      status.textContent = 'The server could not be reached. Reload this page to try again.';
    });
})();`;

const STYLE =
  'body{font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem;margin:4rem auto;padding:0 1rem}';

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own script and style run, it may only call this origin, nothing frames it. */
const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Confirm your email address</title>
    <style>${STYLE}</style>
  </head>
  <body>
    <h1>Confirm your email address</h1>
    <p id="status" role="status">Confirming…</p>
    <noscript>
      <p>This page needs JavaScript to confirm the address. Without it, send the token from the mail to
      POST /api/auth/email/verify as {"token": "&lt;token&gt;"}.</p>
    </noscript>
    <script>${SCRIPT}</script>
  </body>
</html>
`;

/**
 * `GET /auth/verify-email`: the page the verification mail links to, as `…/auth/verify-email#token=…`.
 * The token travels in the URL fragment and then in a JSON POST body, never in a request line, so it
 * appears in no access log (ours, a proxy's, a CDN's) and in no Referer; a mail scanner that fetches the
 * link gets this page and spends nothing. The page itself is static and carries no secret.
 */
@ApiExcludeController()
@Public()
@Controller()
export class VerifyEmailPageController {
  @Get(VERIFY_EMAIL_PAGE.slice(1))
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', PAGE_CSP)
  @Header('cache-control', 'no-store')
  page(): string {
    return PAGE;
  }
}
