import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamicModule, Injectable, Module } from '@nestjs/common';
import { IsString } from 'class-validator';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { LoadedConfig } from 'src/framework/config/load-config';
import { Job } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, TestUser, createTestApp, createTestUser } from 'src/framework/testing';
import { launchChromium } from 'test/support/chromium.mjs';
import { ensureBuild } from 'test/support/processes';
import { waitFor } from 'test/support/wait';

/** Screenshots of every page the test visits (git-ignored). */
const SHOTS = join(__dirname, '..', '.tmp', 'screenshots');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

class NotePayload {
  @IsString()
  note!: string;
}

/** A job that fails until the test heals it: the jobs page must show it and retry it. */
const healed = new Set<string>();
@Injectable()
class BrowserJobs {
  @Job('browser.flaky', { payload: NotePayload, attempts: 1 })
  flaky({ note }: NotePayload): Promise<void> {
    return healed.has(note) ? Promise.resolve() : Promise.reject(new Error(`not yet: ${note}`));
  }
}
@Module({ providers: [BrowserJobs] })
class BrowserJobsModule {}

function withBrowserJobs(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), BrowserJobsModule] };
}

describe('Admin panel in Chromium', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dataSource: DataSource;
  let viewer: TestUser;
  let kitchen: number;
  let garden: number;
  let cup: number;
  let shoppers: TestUser[];
  let orderId: number;
  /** axe-core's serious/critical findings per page, asserted together at the end. */
  const a11y: Record<string, string[]> = {};
  /** Uncaught errors and console errors in the page: the admin must have none. */
  const pageErrors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  /** axe-core on the current page: serious and critical violations, by rule. */
  async function axeViolations(): Promise<string[]> {
    // Evaluated through the DevTools protocol: the admin's CSP (rightly) refuses inline scripts.
    await page.evaluate(AXE);
    const result = await page.evaluate(async () => {
      const axe = (
        globalThis as unknown as {
          axe: {
            run: () => Promise<{
              violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
            }>;
          };
        }
      ).axe;
      return axe.run();
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  async function signIn(email: string, password: string): Promise<void> {
    await page.goto(`${base}/admin/`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').first().fill(password);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page
      .getByText(/dashboard/i)
      .first()
      .waitFor();
  }

  const product = async (name: string, sku: string, price: string, categoryId: number) =>
    (
      await t.inject({
        method: 'POST',
        url: '/api/products',
        payload: { name, sku, price, stock: 10, status: 'active', categoryId },
      })
    ).json<{ id: number }>().id;

  beforeAll(async () => {
    mkdirSync(join(SHOTS, 'after'), { recursive: true });
    ensureBuild(); // admin/dist
    t = await createTestApp(withBrowserJobs, { as: 'superuser' });
    await t.app.listen(0, '127.0.0.1');
    base = await t.app.getUrl();
    base = base.replace('[::1]', '127.0.0.1');
    dataSource = t.app.get(DataSource);
    viewer = await createTestUser(t.app, { isStaff: true, permissions: ['products.view'] });
    const category = async (name: string, slug: string) =>
      (await t.inject({ method: 'POST', url: '/api/categories', payload: { name, slug } })).json<{
        id: number;
      }>().id;
    kitchen = await category('Kitchen', 'kitchen');
    garden = await category('Garden', 'garden');
    cup = await product('Espresso cup', 'CUP-1', '4.50', kitchen);
    const teapot = await product('Teapot', 'POT-1', '25.00', kitchen);
    const can = await product('Watering can', 'CAN-1', '18.00', garden);
    await product('Spade', 'SPD-1', '31.00', garden);
    // Three orders of two customers: the orders list names both with one request for the customers.
    shoppers = [await createTestUser(t.app), await createTestUser(t.app)];
    const order = async (shopper: TestUser, items: { productId: number; quantity: number }[]) =>
      (
        await t.inject({ method: 'POST', url: '/api/orders', headers: shopper.headers, payload: { items } })
      ).json<{ id: number }>().id;
    orderId = await order(shoppers[0], [
      { productId: cup, quantity: 2 },
      { productId: teapot, quantity: 1 },
    ]);
    await order(shoppers[1], [{ productId: can, quantity: 1 }]);
    await order(shoppers[0], [{ productId: teapot, quantity: 3 }]);
    await t.app.get(JobsService).enqueue('browser.flaky', { note: 'retry-me' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept()); // "leave with unsaved changes?" between tests
    page.on('console', (message) => {
      // Refused requests (the 401 session probe, the 422 and 403 the test provokes) log a network error by design.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        pageErrors.push(message.text());
      }
    });
  }, 180_000);

  afterEach(async () => {
    // Where each test left the page: the first thing to look at when one fails.
    const name = (expect.getState().currentTestName ?? 'test').replace(/[^\w]+/g, '-').slice(-60);
    await page?.screenshot({ path: join(SHOTS, 'after', `${name}.png`) }).catch(() => undefined);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** Collects the URLs of the requests to `path` made while `run` runs. */
  async function requestsTo(path: string, run: () => Promise<void>): Promise<string[]> {
    const seen: string[] = [];
    const listen = (request: Request) => {
      if (new URL(request.url()).pathname === path) {
        seen.push(`${request.method()} ${request.url()}`);
      }
    };
    page.on('request', listen);
    try {
      await run();
    } finally {
      page.off('request', listen);
    }
    return seen;
  }

  it('signs in and shows the dashboard; the login page asks for the session once', async () => {
    const probes = await requestsTo('/admin/api/session', async () => {
      await page.goto(`${base}/admin/`);
      await page.getByLabel('Email').waitFor();
      await page.waitForTimeout(1000); // a late check would still be counted
    });
    expect(probes).toEqual([`GET ${base}/admin/api/session`]);
    await shot('01-login');
    a11y.login = await axeViolations();
    await signIn(t.superuser!.email, t.superuser!.password);
    await shot('02-dashboard');
    expect(await page.content()).toContain('Products');
  });

  /** The names in the list's first column, top to bottom. */
  const names = async (): Promise<string[]> =>
    (await page.locator('tbody tr td:nth-child(2)').allTextContents()).map((text) => text.trim());
  const waitForNames = (expected: string[]) =>
    waitFor(
      `rows ${expected.join(', ')}`,
      async () => JSON.stringify(await names()) === JSON.stringify(expected),
    );

  it('lists products: search, filter by category, sort', async () => {
    // The list's first request is held, so axe also reads the page while it loads: its
    // progress indicators and placeholder table.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let answered = Promise.resolve();
    await page.route(/\/api\/products\?/, (route) => (answered = held.then(() => route.continue())), {
      times: 1,
    });
    await page.getByRole('menuitem', { name: 'Products' }).click();
    await page.getByRole('progressbar').first().waitFor();
    await page.locator('tbody tr').first().waitFor(); // react-admin's placeholder rows, shown after 1 s
    a11y.loading = await axeViolations();
    release();
    await answered;
    await page.getByText('Espresso cup').waitFor();
    await shot('03-products');
    a11y.list = await axeViolations();

    await page.getByLabel('Search products').fill('tea');
    await waitForNames(['Teapot']);
    await page.getByLabel('Search products').fill('');
    await waitForNames(['Spade', 'Watering can', 'Teapot', 'Espresso cup']); // newest first

    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.locator('[role^="menuitem"]', { hasText: 'Category' }).click();
    await page.getByRole('combobox', { name: 'Category' }).fill('Gard');
    await page.getByRole('option', { name: 'Garden' }).click();
    await waitForNames(['Spade', 'Watering can']);
    await shot('04-products-filtered');

    await page.getByRole('button', { name: /sort by price/i }).click();
    await waitForNames(['Watering can', 'Spade']);
    await page.getByRole('button', { name: /sort by price/i }).click();
    await waitForNames(['Spade', 'Watering can']);
  });

  it('creates a product: the form checks the documented rules, a server error shows on its field; the category comes from an autocomplete', async () => {
    const keys: (string | undefined)[] = [];
    const keyOf = (request: Request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/products') {
        keys.push(request.headers()['idempotency-key']);
      }
    };
    page.on('request', keyOf);
    await page.goto(`${base}/admin/products/create`);
    await page.getByLabel('Name').fill('Milk jug');
    await page.getByLabel('SKU').fill('CAN-1'); // taken: only the server can know
    await page.getByLabel('Price').fill('12.345');
    await page.getByLabel('Stock').fill('7');
    await page.getByRole('combobox', { name: 'Category' }).fill('Kitc');
    await page.getByRole('option', { name: 'Kitchen' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    // The price rule OpenAPI documents and the server enforces, checked in the form, in the same words.
    await page
      .getByText(
        /^price must be a decimal ≥ 0 with at most 8 digits before the point and at most 2 after the point/,
      )
      .waitFor();
    expect(keys).toEqual([]); // nothing was sent

    await page.getByLabel('Price').fill('12.50');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(/^sku must be unique$/).waitFor();
    await page.waitForTimeout(500); // the error notification has faded in (axe reads colours mid-fade)
    await shot('05-create-validation-error');
    a11y.edit = await axeViolations();
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      "SELECT count(*)::int AS n FROM product WHERE name = 'Milk jug'",
    );
    expect(n).toBe(0); // the refused save wrote nothing

    await page.getByLabel('SKU').fill('JUG-1');
    await page.getByRole('button', { name: 'Save' }).click();
    await waitFor(
      'the saved product',
      async () =>
        (
          await dataSource.query<{ categoryId: number; price: string }[]>(
            `SELECT "categoryId", price FROM product WHERE sku = 'JUG-1'`,
          )
        )[0],
    ).then((row) => expect(row).toEqual({ categoryId: kitchen, price: '12.50' }));
    page.off('request', keyOf);
    // Each save (a user action) sent a key of its own.
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(keys[1]).not.toBe(keys[0]);
  });

  it('edits the product and shows the change in its History', async () => {
    const [{ id }] = await dataSource.query<{ id: number }[]>("SELECT id FROM product WHERE sku = 'JUG-1'");
    await page.goto(`${base}/admin/products/${id}`);
    await page.getByLabel('Stock').fill('3');
    // The save reaches the server, but its answer is lost on the way back: the admin asks again with the
    // same key and gets the first answer; the change is made once.
    const keys: string[] = [];
    await page.route(`${base}/api/products/${id}`, async (route) => {
      if (route.request().method() !== 'PATCH') {
        return route.continue();
      }
      keys.push(route.request().headers()['idempotency-key']);
      if (keys.length === 1) {
        await route.fetch();
        return route.abort('connectionreset');
      }
      return route.continue();
    });
    await page.getByRole('button', { name: 'Save' }).click();
    await waitFor(
      'the new stock',
      async () =>
        (await dataSource.query<{ stock: number }[]>('SELECT stock FROM product WHERE id = $1', [id]))[0]
          .stock === 3,
    );
    await waitFor('the retried save', () => keys.length === 2);
    await page.unroute(`${base}/api/products/${id}`);
    expect(keys[1]).toBe(keys[0]);
    await page.getByText('Element updated').waitFor();
    const [{ updates }] = await dataSource.query<{ updates: number }[]>(
      `SELECT count(*)::int AS updates FROM audit_entry WHERE resource = 'products' AND "recordId" = $1
        AND operation = 'update'`,
      [String(id)],
    );
    expect(updates).toBe(1);
    await page.goto(`${base}/admin/products/${id}`);
    await page.getByRole('tab', { name: 'History' }).click();
    const update = page.locator('tbody tr', { has: page.getByText('update', { exact: true }) });
    await update.waitFor();
    expect(await update.textContent()).toContain(t.superuser!.email);
    expect(await update.textContent()).toMatch(/Stock: 7 → 3/);
    await shot('06-history');
  });

  it('marks each resource with its icon in the menu', async () => {
    await page.goto(`${base}/admin/`);
    const icon = (name: string) =>
      page.getByRole('menuitem', { name, exact: true }).locator('svg').first().getAttribute('data-icon');
    await page.getByRole('menuitem', { name: 'Orders' }).waitFor();
    expect({
      Orders: await icon('Orders'),
      'Order items': await icon('Order items'),
      Products: await icon('Products'),
      Categories: await icon('Categories'),
      Users: await icon('Users'),
      'Audit entries': await icon('Audit entries'),
    }).toEqual({
      Orders: 'ShoppingCart',
      'Order items': 'ReceiptLong',
      Products: 'Inventory2',
      Categories: 'Category',
      Users: 'People',
      'Audit entries': 'History',
    });
  });

  it("lists orders with each customer's email, loading the customers in one request", async () => {
    const users = await requestsTo('/api/users', async () => {
      await page.getByRole('menuitem', { name: 'Orders' }).click();
      await page.locator('tbody tr', { hasText: shoppers[1].email }).waitFor();
      await page.locator('tbody tr', { hasText: shoppers[0].email }).first().waitFor();
    });
    expect(users).toHaveLength(1);
    expect(decodeURIComponent(users[0])).toMatch(/filter\[id\]\[in\]=/);
    expect(await page.locator('tbody tr', { hasText: shoppers[0].email }).count()).toBe(2);
    await shot('12-orders');
  });

  /** The cells of the rows of the table in the region (an inline) named `name`. */
  const inlineRows = async (name: string): Promise<string[][]> => {
    const rows: string[][] = [];
    for (const row of await page.getByRole('region', { name }).locator('tbody tr').all()) {
      rows.push((await row.locator('td').allTextContents()).map((text) => text.trim()));
    }
    return rows;
  };

  it('shows an order with its items (product by name, quantity, unit price) on its show and edit pages', async () => {
    await page.goto(`${base}/admin/orders/${orderId}/show`);
    await page.getByRole('region', { name: 'Items' }).getByText('Teapot').waitFor();
    expect(await inlineRows('Items')).toEqual([
      ['Espresso cup', '2', '4.50'],
      ['Teapot', '1', '25.00'],
    ]);
    await shot('13-order');
    a11y.order = await axeViolations();

    await page.goto(`${base}/admin/orders/${orderId}`);
    await page.getByRole('region', { name: 'Items' }).getByText('Teapot').waitFor();
    expect(await inlineRows('Items')).toEqual([
      ['Espresso cup', '2', '4.50'],
      ['Teapot', '1', '25.00'],
    ]);
    await shot('14-order-edit');
    // A row opens the line's own page (read-only lines: its show page).
    await page.getByRole('region', { name: 'Items' }).getByText('2', { exact: true }).click();
    await page.waitForURL(/\/admin\/order-items\/\d+\/show$/);
  });

  it('names related records in the history; a deleted one by its id', async () => {
    const tag = async (name: string) =>
      (await t.inject({ method: 'POST', url: '/api/tags', payload: { name } })).json<{ id: number }>().id;
    const fragile = await tag('fragile');
    const gift = await tag('gift');
    const moved = await t.inject({
      method: 'PATCH',
      url: `/api/products/${cup}`,
      payload: { categoryId: garden, tagIds: [fragile, gift] },
    });
    expect(moved.statusCode).toBe(200);
    expect((await t.inject({ method: 'DELETE', url: `/api/tags/${gift}` })).statusCode).toBe(204);

    const categories = await requestsTo('/api/categories', async () => {
      await page.goto(`${base}/admin/products/${cup}/show/history`);
      await page.getByText('Category: Kitchen → Garden').waitFor();
    });
    expect(categories).toHaveLength(1); // both categories in one request
    const update = page.locator('tbody tr', { hasText: 'Kitchen → Garden' });
    expect(await update.textContent()).toContain(`Tags: ∅ → fragile, #${gift}`);
    await shot('15-history-labels');
  });

  it('an empty history says so, without a control that would do nothing', async () => {
    // Written outside the API, so it has no audit entries.
    const [{ id }] = await dataSource.query<{ id: number }[]>(
      "INSERT INTO category (name, slug) VALUES ('Attic', 'attic') RETURNING id",
    );
    await page.goto(`${base}/admin/categories/${id}/show/history`);
    await page.getByText('No recorded changes.').waitFor();
    expect(await page.getByRole('button', { name: /clear filters/i }).count()).toBe(0);
    await shot('16-empty-history');
  });

  it('bulk-archives two products and exports the list as CSV', async () => {
    await page.goto(`${base}/admin/products?filter=%7B%7D`); // the list remembers the last filter
    await page.getByText('Teapot').waitFor();
    const row = (name: string) => page.locator('tbody tr', { hasText: name });
    await row('Teapot').getByRole('checkbox').check();
    await row('Spade').getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Archive' }).click();
    await page
      .getByRole('button', { name: /confirm|yes|archive/i })
      .last()
      .click();
    await waitFor(
      'two archived products',
      async () =>
        (
          await dataSource.query<{ sku: string }[]>(
            "SELECT sku FROM product WHERE status = 'archived' ORDER BY sku",
          )
        )
          .map((r) => r.sku)
          .join() === 'POT-1,SPD-1',
    );
    await shot('07-bulk-archived');

    await page.getByLabel('Search products').fill('Spade');
    await waitForNames(['Spade']);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByLabel('Export CSV').click(),
    ]);
    const csv = readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toMatch(/^id,name,sku,/);
    expect(csv).toHaveLength(2);
    expect(csv[1]).toContain(',Spade,SPD-1,');
    expect(csv[1]).toContain(',archived,');
  });

  it('retries a failed job from the jobs page', async () => {
    await page.getByRole('menuitem', { name: 'Jobs' }).click();
    await page.getByLabel('Show the 1 failed jobs of browser.flaky').click();
    await page.getByText('not yet: retry-me', { exact: true }).waitFor();
    await shot('08-jobs');
    healed.add('retry-me');
    await page.getByRole('button', { name: /retry/i }).first().click();
    await waitFor('the retried job to complete', async () => {
      const [row] = await dataSource.query<{ finishedAt: Date | null; failedAt: Date | null }[]>(
        `SELECT "finishedAt", "failedAt" FROM job_outbox WHERE name = 'browser.flaky'`,
      );
      return row?.finishedAt && !row.failedAt;
    });
  });

  it('shows the dashboard on the data of this run', async () => {
    await page.goto(`${base}/admin/`);
    await page.getByText('Recent actions').waitFor();
    await page
      .getByRole('link', { name: /^Product Espresso cup$/ })
      .first()
      .waitFor();
    await shot('17-dashboard');
  });

  it('a user with only products.view sees no create, edit or delete, and the server refuses them', async () => {
    await page.getByRole('button', { name: /\(account\)$|^Account$/ }).click();
    await page.getByRole('menuitem', { name: /logout|sign out/i }).click();
    await page.getByLabel('Email').waitFor();
    await signIn(viewer.email, viewer.password);
    await page.getByRole('menuitem', { name: 'Products' }).click();
    await page.getByText('Espresso cup').waitFor();
    await shot('09-view-only');
    expect(await page.getByLabel('Create').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Archive' }).count()).toBe(0);
    expect(await page.getByRole('menuitem', { name: 'Users' }).count()).toBe(0);
    // The hidden buttons are not the protection: the same session is refused by the server.
    const status = await page.evaluate(async () => {
      const session = (await (await fetch('/admin/api/session')).json()) as { csrfToken: string };
      const res = await fetch('/api/products/1', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ stock: 0 }),
      });
      return res.status;
    });
    expect(status).toBe(403);
  });

  it('works on a phone-sized screen and in dark mode', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${base}/admin/products?filter=%7B%7D`);
    await page.getByText('Espresso cup').waitFor();
    await shot('10-phone');
    await page
      .getByRole('button', { name: /toggle.*(theme|mode)|dark|light/i })
      .first()
      .click();
    await page.waitForTimeout(300);
    await shot('11-phone-dark');
    const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    expect(background).not.toBe('rgb(250, 250, 250)'); // the dark theme took over
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('axe-core finds no serious or critical violation on the login, list (loading and loaded), edit and order pages', () => {
    expect(a11y).toEqual({ login: [], loading: [], list: [], edit: [], order: [] });
  });

  it('raised no error in the page along the way', () => {
    expect(pageErrors).toEqual([]);
  });
});
