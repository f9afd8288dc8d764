import 'src/app/catalog/catalog.factories';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { graphiqlDistDir } from 'src/framework/graphql/graphiql';
import { TestApp, createTestApp } from 'src/framework/testing';
import { launchChromium } from 'test/support/chromium.mjs';
import { ensureBuild } from 'test/support/processes';

/**
 * The GraphiQL IDE at /graphiql on a network without internet: the page, React, GraphiQL and Monaco's
 * workers all come from the app itself, and a document runs against GRAPHQL_PATH from the IDE.
 */
describe('GraphiQL in Chromium, offline', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  /** Every URL the page asked for, and those to another host (answered by nothing: aborted). */
  const requested: string[] = [];
  const elsewhere: string[] = [];
  /** What the page's Content-Security-Policy refused (the IDE must need nothing it refuses). */
  const refused: string[] = [];

  beforeAll(async () => {
    ensureBuild(); // graphiql/dist
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    await t.factory(Category).create({ name: 'Puzzles', slug: 'puzzles-graphiql' });
    await t.app.listen(0, '127.0.0.1');
    base = await t.app.getUrl();
    browser = await launchChromium();
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** A new page that sees only the app: any request to another host is recorded and aborted. */
  async function offlinePage(storage: Record<string, string>): Promise<Page> {
    const context = await browser.newContext();
    await context.route('**/*', (route) => {
      const url = route.request().url();
      requested.push(url);
      if (new URL(url).host !== new URL(base).host) {
        elsewhere.push(url);
        return route.abort('internetdisconnected');
      }
      return route.continue();
    });
    // What a returning user's browser holds: the query (and headers) GraphiQL saved last time.
    await context.addInitScript({
      content: `for (const [k, v] of Object.entries(${JSON.stringify(storage)})) localStorage.setItem(k, v);`,
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) {
        refused.push(message.text());
      }
    });
    return page;
  }

  /** Opens the IDE, waits for its editor, runs the query in it and answers the result pane's text. */
  async function run(page: Page): Promise<string> {
    const response = await page.goto(`${base}/graphiql`);
    expect(response?.status()).toBe(200);
    await page.locator('.graphiql-query-editor .monaco-editor').waitFor({ timeout: 60_000 });
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/graphql');
    await page.locator('.graphiql-execute-button').click();
    expect((await answered).status()).toBe(200);
    const result = page.locator('.result-window');
    await result.getByText('"data"').waitFor();
    return (await result.innerText()).replace(/\s+/g, ' ');
  }

  it('renders from local assets and runs an anonymous query: the result pane shows the data', async () => {
    const page = await offlinePage({ 'graphiql:query': '{ __typename categories { totalCount } }' });
    const shown = await run(page);
    expect(shown).toContain('"__typename": "Query"');
    expect(shown).toMatch(/"totalCount": [1-9]/);
    // The page, its scripts, styles and Monaco's workers were all the app's; nothing left this host.
    expect(requested.some((url) => /\/graphiql\/assets\/.+\.js$/.test(url))).toBe(true);
    expect(requested.some((url) => /\/graphiql\/assets\/.+\.css$/.test(url))).toBe(true);
    expect(elsewhere).toEqual([]);
    expect(refused).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('sends the token typed in its Headers tab', async () => {
    const page = await offlinePage({
      'graphiql:query': '{ viewer { isSuperuser } }',
      'graphiql:headers': JSON.stringify({ Authorization: `Bearer ${t.superuser!.accessToken}` }),
      'graphiql:shouldPersistHeaders': 'true',
    });
    expect(await run(page)).toContain('"isSuperuser": true');
    expect(elsewhere).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('runs a subscription over its WebSocket with the Headers tab token: a REST write shows up', async () => {
    // Groups are staff-only: the socket is signed in with the token from the Headers tab.
    const page = await offlinePage({
      'graphiql:query': 'subscription { groupCreated { name } }',
      'graphiql:headers': JSON.stringify({ Authorization: `Bearer ${t.superuser!.accessToken}` }),
      'graphiql:shouldPersistHeaders': 'true',
    });
    await page.goto(`${base}/graphiql`);
    await page.locator('.graphiql-query-editor .monaco-editor').waitFor({ timeout: 60_000 });
    const socket = page.waitForEvent('websocket');
    await page.locator('.graphiql-execute-button').click();
    await (await socket).waitForEvent('framereceived'); // connection_ack
    await new Promise((resolve) => setTimeout(resolve, 300));
    const created = await t.inject({
      method: 'POST',
      url: '/api/groups',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'Live in GraphiQL' }),
    });
    expect(created.statusCode).toBe(201);
    await page.locator('.result-window').getByText('Live in GraphiQL').waitFor({ timeout: 10_000 });
    expect(elsewhere).toEqual([]);
    expect(refused).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('serves the page with a CSP of its own host only, and its hashed assets cached for good', async () => {
    const ide = await t.anonymous().inject('/graphiql');
    expect(ide.statusCode).toBe(200);
    const csp = String(ide.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/https?:/);
    const script = /src="(\/graphiql\/assets\/[^"]+\.js)"/.exec(ide.body)![1];
    const asset = await t.anonymous().inject(script);
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toMatch(/immutable/);
    // The API's own JSON keeps its stricter policy.
    expect((await t.anonymous().inject('/api/products')).headers['content-security-policy']).toMatch(
      /default-src 'none'/,
    );
  });
});

describe('GraphiQL elsewhere', () => {
  it('runs documents against GRAPHQL_PATH', async () => {
    ensureBuild(); // graphiql/dist
    const t = await createTestApp(AppModule.forRoot, { env: { GRAPHQL_PATH: '/api/graphql' } });
    try {
      expect((await t.inject('/graphiql')).body).toContain('data-endpoint="/api/graphql"');
    } finally {
      await t.close();
    }
  }, 240_000);

  it('is a 404 when off, page and assets, while the endpoint answers', async () => {
    ensureBuild(); // graphiql/dist
    const t = await createTestApp(AppModule.forRoot, { env: { GRAPHQL_IDE: 'off' } });
    try {
      expect((await t.inject('/graphiql')).statusCode).toBe(404);
      // An asset the build has (served when on: see above).
      const page = readFileSync(join(graphiqlDistDir(), 'index.html'), 'utf8');
      const script = /src="(\/graphiql\/assets\/[^"]+\.js)"/.exec(page)![1];
      expect((await t.inject(script)).statusCode).toBe(404);
      const typename = await t.inject({
        method: 'POST',
        url: '/graphql',
        payload: { query: '{ __typename }' },
      });
      expect(typename.json()).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await t.close();
    }
  }, 240_000);
});
