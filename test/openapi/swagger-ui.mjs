// Drives Swagger UI (`/docs`) in Chromium as a person would: Authorize, then per operation "Try it out" →
// "Execute" with whatever the page pre-fills. Shared by test/swagger-ui.e2e-spec.ts (every list operation)
// and test/openapi/swagger-defaults.mjs (every operation, as a report).
// eslint-disable-next-line no-restricted-imports -- also run by a plain Node script: no path alias there
export { launchChromium } from '../support/chromium.mjs';

/** An operation's path in its summary line (Swagger UI names it differently on a deprecated operation). */
const PATH_SELECTOR = '.opblock-summary-path, .opblock-summary-path__deprecated';

/** Opens `/docs` and pastes `token` under the `bearer` scheme of the Authorize dialog. */
export async function openAuthorized(page, baseUrl, token) {
  await page.goto(`${baseUrl}/docs`);
  await page.waitForSelector('.opblock');
  await page.click('.auth-wrapper .authorize');
  const bearer = page.locator('.auth-container', { has: page.locator('h4 code', { hasText: /^bearer$/ }) });
  await bearer.locator('input').fill(token);
  await bearer.locator('button.authorize').click();
  await bearer.locator('button.btn-done').click();
  await page.waitForSelector('.dialog-ux', { state: 'detached' });
}

/** Every operation the page shows, as `{ method, path }` (path as documented, e.g. `/api/products/{id}`). */
export function listedOperations(page) {
  return page.$$eval(
    '.opblock',
    (blocks, pathSelector) =>
      blocks.map((block) => ({
        method: block.querySelector('.opblock-summary-method').textContent.trim().toLowerCase(),
        path: block.querySelector(pathSelector).getAttribute('data-path'),
      })),
    PATH_SELECTOR,
  );
}

/**
 * "Try it out" → "Execute" on one operation with the defaults Swagger UI fills in. Resolves to
 * `{ sent: true, status }` with the HTTP status the server answered, or `{ sent: false, invalid }` when
 * Swagger UI refused to send (a required field it left empty or a value it judged invalid).
 */
export async function executeWithDefaults(page, { method, path }) {
  const block = page
    .locator('.opblock')
    .filter({ has: page.locator(PATH_SELECTOR.replace(/,|$/g, `[data-path="${path}"]$&`)) })
    .filter({ has: page.locator('.opblock-summary-method', { hasText: new RegExp(`^${method}$`, 'i') }) });
  await block.locator('.opblock-summary-control').click();
  // The request this operation sends: its method, and its path with any value in place of {param}.
  const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
  let status;
  const onResponse = (response) => {
    const request = response.request();
    if (request.method() === method.toUpperCase() && pattern.test(new URL(request.url()).pathname)) {
      status = response.status();
    }
  };
  page.on('response', onResponse);
  try {
    await block.locator('.try-out__btn').click();
    await block.locator('button.execute').click();
    for (const deadline = Date.now() + 30_000; status === undefined;) {
      const invalid = block.locator('.invalid');
      if ((await invalid.count()) > 0) {
        const names = await invalid.evaluateAll((els) =>
          els.map((el) => el.closest('tr')?.querySelector('.parameter__name')?.textContent?.trim() ?? 'body'),
        );
        return { sent: false, invalid: names };
      }
      if (Date.now() > deadline) {
        throw new Error(`${method.toUpperCase()} ${path}: no response within 30 s of "Execute"`);
      }
      await page.waitForTimeout(50);
    }
    return { sent: true, status };
  } finally {
    page.off('response', onResponse);
    await block.locator('.opblock-summary-control').click(); // collapse, to keep the page small
  }
}
