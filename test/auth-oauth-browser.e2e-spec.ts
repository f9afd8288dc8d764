import { generateKeyPairSync } from 'node:crypto';
import { Events, type MutableToken, OAuth2Server } from 'oauth2-mock-server';
import type { Browser } from 'playwright-core';
import { AppModule } from 'src/app.module';
import { TestApp, createTestApp } from 'src/framework/testing';
import { launchChromium } from 'test/support/chromium.mjs';
import { ensureBuild, freePort } from 'test/support/processes';

/**
 * The admin's "Sign in with …" button in Chromium, through a real OAuth 2 server: the whole redirect chain
 * (admin → authorize → provider → callback → admin) with the browser's own cookies.
 */
describe('Admin login page: Sign in with a provider, in a browser', () => {
  let provider: OAuth2Server;
  let t: TestApp;
  let base: string;
  let browser: Browser;

  /** The mock signs the access token, then the ID token: the inner `once` edits the ID token. */
  const nextPerson = (claims: Record<string, unknown>) =>
    provider.service.once(Events.BeforeTokenSigning, () => {
      provider.service.once(Events.BeforeTokenSigning, (token: MutableToken) => {
        Object.assign(token.payload, claims);
      });
    });

  beforeAll(async () => {
    ensureBuild(); // admin/dist
    provider = new OAuth2Server();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = JSON.parse(JSON.stringify(privateKey.export({ format: 'jwk' }))) as Record<string, unknown>;
    await provider.issuer.keys.add({ ...jwk, alg: 'RS256', kid: 'browser-key' });
    await provider.start(0, '127.0.0.1');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await createTestApp(AppModule.forRoot, {
      env: {
        PUBLIC_URL: base,
        OAUTH_PROVIDERS: 'mock',
        OAUTH_MOCK_ISSUER: provider.issuer.url!,
        OAUTH_MOCK_CLIENT_ID: 'nestor-admin',
        OAUTH_MOCK_CLIENT_SECRET: 'browser client secret',
        OAUTH_MOCK_LABEL: 'Mock ID',
      },
    });
    await t.app.listen(port, '127.0.0.1');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await provider?.stop();
  });

  it('staff reach the admin; a customer comes back to the login page with the reason', async () => {
    await t.createUser({ email: 'staff-browser@example.com', isStaff: true });
    await t.createUser({ email: 'customer-browser@example.com' });

    const staff = await browser.newPage();
    await staff.goto(`${base}/admin/login`);
    nextPerson({ sub: 'browser-staff', email: 'staff-browser@example.com', email_verified: true });
    await staff.getByRole('link', { name: 'Sign in with Mock ID' }).click();
    await staff.waitForURL(`${base}/admin/`);
    await staff.getByText('staff-browser@example.com').first().waitFor();
    await staff.close();

    const customer = await browser.newPage();
    await customer.goto(`${base}/admin/login`);
    nextPerson({ sub: 'browser-customer', email: 'customer-browser@example.com', email_verified: true });
    await customer.getByRole('link', { name: 'Sign in with Mock ID' }).click();
    await customer.waitForURL(/\/admin\/login\?oauth_error=oauth-sign-in-refused$/);
    await customer.getByText('That account cannot open the admin').waitFor();
    await customer.close();
  });
});
