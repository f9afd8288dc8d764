import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { AppModule } from 'src/app.module';
import { TestApp, createTestApp } from 'src/framework/testing';
import {
  executeWithDefaults,
  launchChromium,
  listedOperations,
  openAuthorized,
} from 'test/openapi/swagger-ui.mjs';

const DOCUMENT = join(__dirname, 'snapshots', 'openapi.json');

/**
 * Swagger UI as its users meet it (issue 17 §3): staff Authorize with a token, then "Try it out" → "Execute"
 * with whatever the page fills in. Every list operation must answer 2xx that way. The same for every
 * operation is a report: `node test/openapi/swagger-defaults.mjs`.
 */
describe('Swagger UI with its defaults, in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    await t.app.listen(0, '127.0.0.1');
    browser = await launchChromium();
    page = await browser.newPage();
    await openAuthorized(page, await t.app.getUrl(), t.superuser!.accessToken);
  });
  afterAll(async () => {
    await browser?.close();
    await t.close();
  });

  it('runs every list operation with the pre-filled values: 2xx', async () => {
    const document = JSON.parse(readFileSync(DOCUMENT, 'utf8')) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const shown = await listedOperations(page);
    const lists = shown
      .map((op) => ({ ...op, operationId: document.paths[op.path]?.[op.method]?.operationId ?? '' }))
      .filter((op) => op.operationId.endsWith('.list'));
    // Every generated resource's list, and the hand-written ones (API keys, a job queue).
    expect(lists.length).toBeGreaterThanOrEqual(11);
    const failures: string[] = [];
    for (const op of lists) {
      const outcome = await executeWithDefaults(page, op);
      if (!outcome.sent) {
        failures.push(`${op.operationId}: not sent, Swagger UI marks ${outcome.invalid.join(', ')} invalid`);
      } else if (outcome.status < 200 || outcome.status > 299) {
        failures.push(`${op.operationId}: ${outcome.status}`);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it('runs creates of two resources one after the other with the pre-filled values: 2xx', async () => {
    // Each accepts an Idempotency-Key: a pre-filled key would be the same for both, and the second a 422.
    const shown = await listedOperations(page);
    const creates = ['/api/tags', '/api/categories'].map((path) =>
      shown.find((op) => op.path === path && op.method === 'post')!,
    );
    const statuses: unknown[] = [];
    for (const op of creates) {
      const outcome = await executeWithDefaults(page, op);
      statuses.push(outcome.sent ? outcome.status : outcome.invalid);
    }
    expect(statuses).toEqual([201, 201]);
  }, 120_000);

  it("offers every API version in its selector and loads each version's document", async () => {
    const select = page.locator('.download-url-wrapper select');
    expect(await select.locator('option').allTextContents()).toEqual(['v1 (default)', 'v2']);
    expect(await select.inputValue()).toBe('/docs/v1-json');
    const v1 = await listedOperations(page);
    expect(v1).toContainEqual({ method: 'get', path: '/api/products/{id}' });

    const loaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/docs/v2-json');
    await select.selectOption({ label: 'v2' });
    const response = await loaded;
    expect(response.status()).toBe(200);
    expect(Object.keys((await response.json()) as { paths: object }).length).toBeGreaterThan(0);
    await page.waitForSelector('[data-path="/api/v2/products/{id}"]');
    const v2 = await listedOperations(page);
    expect(v2).toContainEqual({ method: 'get', path: '/api/v2/products' });
    expect(v2).not.toContainEqual({ method: 'get', path: '/api/products/{id}' });
    expect(v2.length).toBe(v1.length);
  }, 120_000);
});
