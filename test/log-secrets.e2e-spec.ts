import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import type { Browser } from 'playwright-core';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { launchChromium } from 'test/support/chromium.mjs';
import { NestorProcess, ensureBuild, freePort } from 'test/support/processes';
import { SmtpSink, startSmtp } from 'test/support/smtp';
import { waitFor } from 'test/support/wait';

interface LogLine {
  level: number;
  msg?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

interface Pair {
  accessToken: string;
  refreshToken: string;
}

/**
 * The account flows against the built server (the bundle `npm start` runs, a real port, logging at `trace`), with
 * every line it writes collected: no password, token, code or key a client sends or receives appears in
 * any of them, also when a client puts one in a query string. The verification link is followed in
 * Chromium, as a user would.
 */
describe('No secrets in logs', () => {
  let db: TestDatabase;
  let smtp: SmtpSink;
  let dataDir: string;
  let server: NestorProcess;
  let browser: Browser;
  let base: string;
  /** Every secret value the flows handled; none may appear in the output. */
  const secrets = new Set<string>();
  const ADMIN = { email: 'root@example.com', password: 'superuser password 0' };

  const keep = <T extends string>(value: T): T => {
    secrets.add(value);
    return value;
  };
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: <T>() => JSON.parse(text) as T };
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const login = async (email: string, password: string, otp?: string): Promise<Pair> => {
    const res = await call('POST', '/api/auth/login', { email, password, ...(otp ? { otp } : {}) });
    expect(res.status).toBe(200);
    const pair = res.json<Pair>();
    keep(pair.accessToken);
    keep(pair.refreshToken);
    return pair;
  };
  /** The request lines the server has written so far. */
  const requestLines = (): LogLine[] =>
    server.output
      .split('\n')
      .slice(0, -1) // the text after the last newline is a line still being written
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg === 'request completed');

  beforeAll(async () => {
    ensureBuild();
    db = await createTestDatabase();
    smtp = await startSmtp();
    dataDir = mkdtempSync(join(tmpdir(), 'nestor-logs-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = new NestorProcess('main', {
      DATABASE_URL: db.url,
      PORT: String(port),
      PUBLIC_URL: base,
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      LOG_LEVEL: 'trace',
      DATA_DIR: dataDir,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: keep(ADMIN.password),
    });
    await server.waitFor('Nestor is listening');
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await smtp?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('register, verify through the mailed link in a browser, log in, refresh, log out', async () => {
    const email = 'ada@example.com';
    const password = keep('analytical engine 1843');
    expect((await call('POST', '/api/auth/register', { email, password })).status).toBe(202);

    const mail = await smtp.next(email, /Confirm your email/);
    const [link, token] = /(http:\/\/\S+)#token=([A-Za-z0-9_-]{43})/.exec(mail.text)!.slice(1);
    keep(token);
    // The link's request line carries nothing secret: the token is in the fragment.
    expect(link).toBe(`${base}/auth/verify-email`);

    const page = await browser.newPage();
    await page.goto(`${link}#token=${token}`);
    await page.getByText('Your email address is verified.').waitFor();
    expect(page.url()).toBe(link); // the fragment left the address bar and the history entry
    await page.close();

    const pair = await login(email, password);
    const me = await call('GET', '/api/auth/me', undefined, bearer(pair.accessToken));
    expect(me.json()).toMatchObject({ email, emailVerified: true });

    const rotated = await call('POST', '/api/auth/refresh', { refreshToken: pair.refreshToken });
    expect(rotated.status).toBe(200);
    const next = rotated.json<Pair>();
    keep(next.accessToken);
    keep(next.refreshToken);
    expect((await call('POST', '/api/auth/logout', { refreshToken: next.refreshToken })).status).toBe(204);

    // The server writes its lines asynchronously: wait for them rather than race the pipe.
    const logged = (method: string, url: string, status: number) =>
      waitFor(`the log line of ${method} ${url}`, () =>
        requestLines().find(
          (line) => line.req?.method === method && line.req.url === url && line.res?.statusCode === status,
        ),
      );
    await logged('GET', '/auth/verify-email', 200);
    await logged('POST', '/api/auth/email/verify', 200);
  });

  it('forgot password, reset with the mailed token, change the password', async () => {
    const email = 'grace@example.com';
    const first = keep('cobol compiler 1959');
    await call('POST', '/api/auth/register', { email, password: first });
    keep(/#token=([A-Za-z0-9_-]{43})/.exec((await smtp.next(email, /Confirm your email/)).text)![1]);

    expect((await call('POST', '/api/auth/password/forgot', { email })).status).toBe(202);
    const token = keep(
      /^([A-Za-z0-9_-]{43})$/m.exec((await smtp.next(email, /Reset your password/)).text)![1],
    );
    const second = keep('flow-matic 1955 reset');
    expect((await call('POST', '/api/auth/password/reset', { token, password: second })).status).toBe(204);

    const pair = await login(email, second);
    const third = keep('a third password 1962');
    const changed = await call(
      'POST',
      '/api/auth/password/change',
      { currentPassword: second, newPassword: third },
      bearer(pair.accessToken),
    );
    expect(changed.status).toBe(204);
    await login(email, third);
  });

  it('two-factor: set up, enable with a code, log in with a recovery code, disable', async () => {
    const email = 'barbara@example.com';
    const password = keep('clu language 1974');
    await call('POST', '/api/auth/register', { email, password });
    const pair = await login(email, password);

    const setup = await call('POST', '/api/auth/2fa/setup', {}, bearer(pair.accessToken));
    const { secret, otpauthUri } = setup.json<{ secret: string; otpauthUri: string }>();
    keep(secret);
    keep(otpauthUri);
    const code = keep(await generate({ secret }));
    const enabled = await call('POST', '/api/auth/2fa/enable', { code }, bearer(pair.accessToken));
    expect(enabled.status).toBe(200);
    const { recoveryCodes } = enabled.json<{ recoveryCodes: string[] }>();
    recoveryCodes.forEach(keep);

    expect((await call('POST', '/api/auth/login', { email, password })).status).toBe(401);
    const withCode = await login(email, password, recoveryCodes[0]);
    const disabled = await call('POST', '/api/auth/2fa/disable', { password }, bearer(withCode.accessToken));
    expect(disabled.status).toBe(204);
  });

  it('API keys: create, use, revoke; the admin session: log in with cookie and CSRF token', async () => {
    const owner = await login(ADMIN.email, ADMIN.password);
    const created = await call(
      'POST',
      '/api/auth/api-keys',
      { name: 'ci', permissions: ['products.view'] },
      bearer(owner.accessToken),
    );
    expect(created.status).toBe(201);
    const { id, key } = created.json<{ id: number; key: string }>();
    keep(key);
    expect((await call('GET', '/api/auth/me', undefined, bearer(key))).status).toBe(200);
    expect(
      (await call('DELETE', `/api/auth/api-keys/${id}`, undefined, bearer(owner.accessToken))).status,
    ).toBe(204);

    const session = await call('POST', '/admin/api/session', ADMIN, { origin: base });
    expect(session.status).toBe(200);
    const cookie = session.headers.getSetCookie().map((c) => c.split(';')[0]);
    cookie.forEach((c) => keep(c.slice(c.indexOf('=') + 1)));
    keep(session.json<{ csrfToken: string }>().csrfToken);
    const again = await call('GET', '/admin/api/session', undefined, { cookie: cookie.join('; ') });
    expect(again.status).toBe(200);
  });

  it('redacts secrets a client puts in the query string', async () => {
    const pair = await login(ADMIN.email, ADMIN.password);
    const code = keep('c0de-482913');
    const urls = [
      `/api/auth/me?access_token=${pair.accessToken}`,
      `/api/auth/refresh?refreshToken=${pair.refreshToken}`,
      `/api/auth/login?email=${encodeURIComponent(ADMIN.email)}&password=${encodeURIComponent(ADMIN.password)}`,
      `/auth/verify-email?token=${keep('Q'.repeat(43))}`,
      `/api/auth/email/verify?token=${keep('R'.repeat(43))}`,
      `/api/products?otp=${code}&code=${code}&api_key=${keep('nst_abcdef_0123456789')}&secret=${keep('s3cr3t-value')}`,
    ];
    for (const url of urls) {
      await call(url.includes('/login') || url.includes('/refresh') ? 'POST' : 'GET', url);
    }

    for (const url of urls) {
      const path = url.split('?')[0];
      const line = await waitFor(`the log line of ${path}?…`, () =>
        requestLines().find((candidate) => candidate.req?.url.startsWith(`${path}?`)),
      );
      expect(line.req!.url).toContain('=[redacted]');
    }
    // Only the secret parameters: the email beside the password stays readable.
    expect(requestLines().map((line) => line.req!.url)).toContainEqual(
      expect.stringContaining(`/api/auth/login?email=${encodeURIComponent(ADMIN.email)}&password=[redacted]`),
    );
  });

  it('wrote none of those secrets in any log line', async () => {
    await server.stop();
    const output = server.output;
    expect(requestLines().length).toBeGreaterThan(25);
    for (const secret of secrets) {
      // A 6-digit code may occur inside a timestamp or a port: only a code standing alone counts.
      const found = /^\d+$/.test(secret)
        ? new RegExp(`(?<!\\d)${secret}(?!\\d)`).test(output)
        : output.includes(secret);
      expect({ secret, found }).toEqual({ secret, found: false });
    }
  });
});
