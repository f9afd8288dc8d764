/**
 * Query parameter names whose values are secrets, matched on the name's last `[…]` segment, lower-cased
 * without `-`, `_` or `.`: anything containing token, passw, secret, apikey, credential, signature, otp,
 * or exactly code, key, pin, sig, auth, jwt, hmac, salt or session (like Rails' `filter_parameters`).
 */
const SECRET_NAME =
  /token|passw|pwd|secret|apikey|privatekey|credential|signature|otp|^(?:code|key|pin|sig|auth|jwt|hmac|salt|session|sessionid)$/;

/** The censor that replaces a secret value, the same as the log's other redactions. */
export const REDACTED = '[redacted]';

/**
 * A cheap first look at the whole query: without one of these fragments (or a percent-encoded name) no
 * parameter can be a secret, and the URL is logged untouched. Most URLs stop here.
 */
const MAYBE_SECRET = /token|passw|pwd|secret|credential|otp|code|key|pin|sig|auth|jwt|hmac|salt|session|%/i;

function isSecretName(encodedName: string): boolean {
  let name = encodedName;
  if (name.includes('%') || name.includes('+')) {
    try {
      name = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // Not valid percent-encoding: judged as sent.
    }
  }
  const bracket = name.lastIndexOf('[');
  const last = bracket === -1 ? name : name.slice(bracket + 1).replace(/\]$/, '');
  return SECRET_NAME.test(last.toLowerCase().replace(/[-_.\s]/g, ''));
}

/**
 * A request URL fit for a log line: the value of every query parameter whose name marks a secret
 * (`token`, `password`, `refreshToken`, `code`, `otp`, `api_key`, `filter[secret]`…) becomes `[redacted]`.
 * Paths and other parameters are kept as sent. Example: `redactUrl('/verify?token=abc&next=/')` →
 * `'/verify?token=[redacted]&next=/'`.
 */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1 || !MAYBE_SECRET.test(url.slice(start + 1))) {
    return url;
  }
  let changed = false;
  const pairs = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals === -1 ? pair : pair.slice(0, equals);
      if (!isSecretName(name)) {
        return pair;
      }
      changed = true;
      return `${name}=${REDACTED}`;
    });
  return changed ? `${url.slice(0, start + 1)}${pairs.join('&')}` : url;
}
