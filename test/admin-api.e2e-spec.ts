import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { ADMIN_ICONS } from 'src/framework/resource/admin-icons';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { MailService } from 'src/framework/mail/mail.service';
import { TestApp, TestUser, createTestApp, createTestUser } from 'src/framework/testing';
import { waitFor } from 'test/support/wait';

const SNAPSHOT = join(__dirname, 'snapshots', 'admin-schema.json');
const UPDATE = process.env.UPDATE_OPENAPI === '1';
const HOST = 'shop.test';
const ORIGIN = `http://${HOST}`;

interface Session {
  cookie: string;
  csrfToken: string;
}

interface SchemaBody {
  version: number;
  user: { email: string };
  resources: {
    path: string;
    label: string;
    labelSingular: string;
    icon: string;
    readOnly: boolean;
    permissions: Record<string, boolean>;
    actions: { name: string; job: boolean }[];
    fields: {
      name: string;
      label: string;
      type: string;
      relation: unknown;
      min: number | null;
      pattern: string | null;
    }[];
    listFilter: { field: string; label: string }[];
    inlines: {
      resource: string;
      fkField: string;
      label: string;
      fields: string[];
      ordering: string | null;
    }[];
  }[];
}

/** The `name=value` of a Set-Cookie header, and its attributes in lower case. */
function cookieOf(res: LightMyRequestResponse): { pair: string; attributes: string } {
  const header = res.headers['set-cookie'];
  const line = (Array.isArray(header) ? header : [header ?? '']).find((c) =>
    c.startsWith('nestor_session='),
  )!;
  const [pair, ...attributes] = line.split(';').map((part) => part.trim());
  return { pair, attributes: attributes.join('; ').toLowerCase() };
}

describe('Admin API: staff sessions with CSRF, schema, actions, CSV export, dashboard', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let staff: TestUser;
  let viewer: TestUser;
  let admin: Session;
  let categoryId: number;

  const login = async (email: string, password: string, headers: Record<string, string> = {}) =>
    t.inject({
      method: 'POST',
      url: '/admin/api/session',
      headers: { authorization: undefined, host: HOST, origin: ORIGIN, ...headers },
      payload: { email, password },
    });
  const sessionOf = async (user: TestUser): Promise<Session> => {
    const res = await login(user.email, user.password);
    expect(res.statusCode).toBe(200);
    return { cookie: cookieOf(res).pair, csrfToken: res.json<{ csrfToken: string }>().csrfToken };
  };
  /** A browser request on a session: cookie, same-site Origin and the CSRF token. */
  const asSession = (
    session: Session,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: object,
    headers: Record<string, string | undefined> = {},
  ) =>
    t.inject({
      method,
      url,
      payload,
      headers: {
        authorization: undefined,
        host: HOST,
        origin: ORIGIN,
        cookie: session.cookie,
        'x-csrf-token': session.csrfToken,
        ...headers,
      },
    });
  const createProduct = async (sku: string, price = '10.00'): Promise<number> => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/products',
      payload: { name: `Product ${sku}`, sku, price, stock: 5, status: 'active', categoryId },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: number }>().id;
  };

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { PUBLIC_URL: ORIGIN } });
    dataSource = t.app.get(DataSource);
    staff = await createTestUser(t.app, { isStaff: true, isSuperuser: true });
    viewer = await createTestUser(t.app, { isStaff: true, permissions: ['products.view'] });
    admin = await sessionOf(staff);
    const category = await t.inject({
      method: 'POST',
      url: '/api/categories',
      payload: { name: 'Admin', slug: 'admin' },
    });
    categoryId = category.json<{ id: number }>().id;
  });
  afterAll(() => t?.close());

  describe('sessions', () => {
    it('logs staff in with an httpOnly, SameSite=Lax cookie and a CSRF token; GET answers the session', async () => {
      const res = await login(staff.email, staff.password);
      expect(res.statusCode).toBe(200);
      const { pair, attributes } = cookieOf(res);
      expect(attributes).toContain('httponly');
      expect(attributes).toContain('samesite=lax');
      expect(attributes).toContain('path=/');
      expect(attributes).not.toContain('secure'); // NODE_ENV=test; production adds Secure
      const body = res.json<{ user: { email: string; isSuperuser: boolean }; csrfToken: string }>();
      expect(body.user).toMatchObject({ email: staff.email, isSuperuser: true });
      expect(body.csrfToken).toMatch(/^[\w-]{43}$/);
      expect(JSON.stringify(body)).not.toContain(pair.split('=')[1]); // the session id only travels in the cookie

      const current = await t.inject({
        url: '/admin/api/session',
        headers: { authorization: undefined, cookie: pair },
      });
      expect(current.statusCode).toBe(200);
      expect(current.json()).toEqual(body);
    });

    it('gives a new session id at every login, and logout ends it', async () => {
      const first = cookieOf(await login(staff.email, staff.password)).pair;
      const second = await login(staff.email, staff.password, { cookie: first });
      const next = cookieOf(second).pair;
      expect(next).not.toBe(first);
      const stale = await t.inject({
        url: '/admin/api/session',
        headers: { authorization: undefined, cookie: first },
      });
      expect(stale.statusCode).toBe(401);

      const session = { cookie: next, csrfToken: second.json<{ csrfToken: string }>().csrfToken };
      expect((await asSession(session, 'DELETE', '/admin/api/session')).statusCode).toBe(204);
      const after = await asSession(session, 'GET', '/admin/api/schema');
      expect(after.statusCode).toBe(401);
    });

    it('refuses non-staff accounts (403, no session) and wrong passwords (401)', async () => {
      const customer = await createTestUser(t.app);
      const refused = await login(customer.email, customer.password);
      expect(refused.statusCode).toBe(403);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      const [{ n }] = await dataSource.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM admin_session WHERE "userId" = $1',
        [customer.id],
      );
      expect(n).toBe(0);
      expect((await login(staff.email, 'wrong password!')).statusCode).toBe(401);
    });

    it('asks 2FA accounts for their code before opening a session', async () => {
      const user = await createTestUser(t.app, { isStaff: true });
      const post = (url: string, payload?: object) =>
        t.inject({ method: 'POST', url, payload, headers: user.headers });
      const { secret } = (await post('/api/auth/2fa/setup')).json<{ secret: string }>();
      const step = Math.floor(Date.now() / 1000);
      expect(
        (await post('/api/auth/2fa/enable', { code: await generate({ secret, epoch: step }) })).statusCode,
      ).toBe(200);
      const withoutCode = await login(user.email, user.password);
      expect(withoutCode.statusCode).toBe(401);
      expect(withoutCode.json()).toMatchObject({ type: 'urn:nestor:problem:otp-required' });
      expect(withoutCode.headers['set-cookie']).toBeUndefined();
      const withCode = await t.inject({
        method: 'POST',
        url: '/admin/api/session',
        headers: { authorization: undefined, host: HOST, origin: ORIGIN },
        payload: {
          email: user.email,
          password: user.password,
          otp: await generate({ secret, epoch: step + 30 }),
        },
      });
      expect(withCode.statusCode).toBe(200);
    });

    it('a password change ends the admin sessions of that user', async () => {
      const user = await createTestUser(t.app, { isStaff: true });
      const session = await sessionOf(user);
      expect((await asSession(session, 'GET', '/admin/api/schema')).statusCode).toBe(200);
      const changed = await t.inject({
        method: 'POST',
        url: '/api/auth/password/change',
        headers: user.headers,
        payload: { currentPassword: user.password, newPassword: 'a brand new passphrase' },
      });
      expect(changed.statusCode).toBe(204);
      expect((await asSession(session, 'GET', '/admin/api/schema')).statusCode).toBe(401);
    });

    it('refuses a login posted from another site', async () => {
      const res = await login(staff.email, staff.password, { origin: 'https://evil.example' });
      expect(res.statusCode).toBe(403);
    });
  });

  describe('CSRF on cookie sessions', () => {
    const payload = (slug: string) => ({ name: `CSRF ${slug}`, slug });
    const countSlug = async (slug: string) =>
      (
        await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM category WHERE slug = $1', [
          slug,
        ])
      )[0].n;

    it('an unsafe request without the token is a 403 and writes nothing', async () => {
      const res = await asSession(admin, 'POST', '/api/categories', payload('no-token'), {
        'x-csrf-token': undefined,
      });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ status: 403, detail: expect.stringContaining('CSRF') });
      expect(await countSlug('no-token')).toBe(0);
    });

    it('a wrong token, or a foreign or missing Origin, is a 403 too', async () => {
      const wrong = await asSession(admin, 'POST', '/api/categories', payload('wrong'), {
        'x-csrf-token': 'x'.repeat(43),
      });
      expect(wrong.statusCode).toBe(403);
      const foreign = await asSession(admin, 'POST', '/api/categories', payload('foreign'), {
        origin: 'https://evil.example',
      });
      expect(foreign.statusCode).toBe(403);
      const none = await asSession(admin, 'POST', '/api/categories', payload('none'), { origin: undefined });
      expect(none.statusCode).toBe(403);
      expect(await countSlug('wrong')).toBe(0);
      expect(await countSlug('foreign')).toBe(0);
    });

    it('with the token from this site it works, and reads need no token', async () => {
      const created = await asSession(admin, 'POST', '/api/categories', payload('ok'));
      expect(created.statusCode).toBe(201);
      const read = await asSession(admin, 'GET', '/api/categories?filter[slug]=ok', undefined, {
        'x-csrf-token': undefined,
        origin: undefined,
      });
      expect(read.json<{ data: unknown[] }>().data).toHaveLength(1);
    });

    it('bearer-token clients are not affected', async () => {
      const res = await t.inject({ method: 'POST', url: '/api/categories', payload: payload('bearer') });
      expect(res.statusCode).toBe(201);
    });
  });

  describe('schema', () => {
    it('matches the committed snapshot for a superuser (version 1)', async () => {
      const schema = (await asSession(admin, 'GET', '/admin/api/schema')).json<SchemaBody>();
      const stable = { ...schema, user: { ...schema.user, id: 0, email: 'superuser' } };
      if (UPDATE) {
        writeFileSync(SNAPSHOT, `${JSON.stringify(stable, null, 2)}\n`);
      }
      expect(stable).toEqual(JSON.parse(readFileSync(SNAPSHOT, 'utf8')));
    });

    it('derives fields from the entity: types, relations, validation limits, actions', async () => {
      const schema = (await asSession(admin, 'GET', '/admin/api/schema')).json<SchemaBody>();
      const products = schema.resources.find((r) => r.path === 'products')!;
      const field = (name: string) => products.fields.find((f) => f.name === name);
      expect(field('categoryId')).toMatchObject({
        type: 'relation',
        relation: { resource: 'categories', cardinality: 'toOne' },
      });
      expect(field('tagIds')).toMatchObject({
        type: 'relation',
        relation: { resource: 'tags', cardinality: 'toMany' },
      });
      expect(field('stock')).toMatchObject({ type: 'integer', min: 0 });
      expect(field('price')).toMatchObject({ type: 'decimal', pattern: expect.stringContaining('\\d') });
      expect(products.actions.map((a) => a.name)).toEqual(['archive']);
      expect(products.permissions).toEqual({ view: true, add: true, change: true, delete: true });
      // The permissions picker: users and groups reference the read-only, staff-only permissions resource.
      const users = schema.resources.find((r) => r.path === 'users')!;
      expect(users.fields.find((f) => f.name === 'permissionIds')).toMatchObject({
        type: 'relation',
        relation: { resource: 'permissions', cardinality: 'toMany' },
      });
      const permissions = schema.resources.find((r) => r.path === 'permissions')!;
      expect(permissions.permissions).toEqual({ view: true, add: false, change: false, delete: false });
      const search = await asSession(admin, 'GET', '/api/permissions?q=products.ch');
      expect(search.json<{ data: { codename: string }[] }>().data.map((p) => p.codename)).toEqual([
        'products.change',
      ]);
      const customer = await createTestUser(t.app);
      expect((await t.inject({ url: '/api/permissions', headers: customer.headers })).statusCode).toBe(403);
      const orders = schema.resources.find((r) => r.path === 'orders')!;
      expect(orders.permissions.add).toBe(false); // the resource has no generated create
      expect(orders.actions).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'resend-confirmation', job: true })]),
      );
    });

    it('labels fields as people read them: acronyms in capitals, relations by name, overrides kept', async () => {
      const schema = (await asSession(admin, 'GET', '/admin/api/schema')).json<SchemaBody>();
      const resource = (path: string) => schema.resources.find((r) => r.path === path)!;
      const label = (path: string, field: string) =>
        resource(path).fields.find((f) => f.name === field)?.label;
      expect({
        totpEnabled: label('users', 'totpEnabled'),
        sku: label('products', 'sku'),
        id: label('products', 'id'),
        categoryId: label('products', 'categoryId'),
        tagIds: label('products', 'tagIds'),
        isActive: label('users', 'isActive'), // the resource's admin.labels wins
        unitPrice: label('order-items', 'unitPrice'),
      }).toEqual({
        totpEnabled: 'TOTP enabled',
        sku: 'SKU',
        id: 'ID',
        categoryId: 'Category',
        tagIds: 'Tags',
        isActive: 'Active',
        unitPrice: 'Unit price',
      });
      expect(resource('order-items')).toMatchObject({ label: 'Order items', labelSingular: 'Order item' });
      // Filters carry their label too: the UI derives none itself.
      expect(resource('products').listFilter.map((f) => [f.field, f.label])).toEqual(
        expect.arrayContaining([
          ['categoryId', 'Category'],
          ['createdAt', 'Created at'],
        ]),
      );
    });

    it('gives every resource its declared icon, one of those the UI ships', async () => {
      const schema = (await asSession(admin, 'GET', '/admin/api/schema')).json<SchemaBody>();
      const icons = Object.fromEntries(schema.resources.map((r) => [r.path, r.icon]));
      expect(icons).toEqual({
        users: 'People',
        groups: 'Groups',
        permissions: 'Key',
        'audit-entries': 'History',
        categories: 'Category',
        tags: 'LocalOffer',
        products: 'Inventory2',
        orders: 'ShoppingCart',
        'order-items': 'ReceiptLong',
        'daily-sales-reports': 'Assessment',
      });
      expect(ADMIN_ICONS).toEqual(expect.arrayContaining(Object.values(icons)));
    });

    it("lists an order's items as an inline, for those who may view them; the lines and their products take one request each", async () => {
      const schema = (await asSession(admin, 'GET', '/admin/api/schema')).json<SchemaBody>();
      const resource = (body: SchemaBody, path: string) => body.resources.find((r) => r.path === path);
      expect(resource(schema, 'orders')!.inlines).toEqual([
        {
          resource: 'order-items',
          fkField: 'orderId',
          label: 'Items',
          fields: ['productId', 'quantity', 'unitPrice'],
          ordering: null,
        },
      ]);
      expect(resource(schema, 'order-items')).toMatchObject({
        readOnly: true,
        permissions: { view: true, add: false, change: false, delete: false },
      });

      const clerk = await sessionOf(
        await createTestUser(t.app, { isStaff: true, permissions: ['orders.view'] }),
      );
      const clerkSchema = (await asSession(clerk, 'GET', '/admin/api/schema')).json<SchemaBody>();
      expect(resource(clerkSchema, 'orders')!.inlines).toEqual([]); // no order-items.view: no inline
      expect(resource(clerkSchema, 'order-items')).toBeUndefined();
      const packer = await sessionOf(
        await createTestUser(t.app, { isStaff: true, permissions: ['orders.view', 'order-items.view'] }),
      );
      const packerSchema = (await asSession(packer, 'GET', '/admin/api/schema')).json<SchemaBody>();
      expect(resource(packerSchema, 'orders')!.inlines.map((i) => i.resource)).toEqual(['order-items']);

      // What the order page asks for: its lines, then the products they name, in one request.
      const products = [await createProduct('INL-1', '2.50'), await createProduct('INL-2', '7.00')];
      const placed = await t.inject({
        method: 'POST',
        url: '/api/orders',
        payload: { items: products.map((productId, i) => ({ productId, quantity: i + 1 })) },
      });
      expect(placed.statusCode).toBe(201);
      const lines = await asSession(
        packer,
        'GET',
        `/api/order-items?filter[orderId]=${placed.json<{ id: number }>().id}&sort=id`,
      );
      expect(lines.statusCode).toBe(200);
      const rows = lines.json<{ data: { productId: number; quantity: number; unitPrice: string }[] }>().data;
      expect(rows.map((r) => [r.productId, r.quantity, r.unitPrice])).toEqual([
        [products[0], 1, '2.50'],
        [products[1], 2, '7.00'],
      ]);
      const named = await asSession(
        admin,
        'GET',
        `/api/products?filter[id][in]=${rows.map((r) => r.productId).join(',')}&fields=id,name`,
      );
      expect(
        named
          .json<{ data: { name: string }[] }>()
          .data.map((p) => p.name)
          .sort(),
      ).toEqual(['Product INL-1', 'Product INL-2']);
    });

    it('shows a user only what they may do', async () => {
      const session = await sessionOf(viewer);
      const schema = (await asSession(session, 'GET', '/admin/api/schema')).json<SchemaBody>();
      expect(schema.resources.map((r) => r.path)).toEqual(['products']);
      expect(schema.resources[0].permissions).toEqual({
        view: true,
        add: false,
        change: false,
        delete: false,
      });
      expect(schema.resources[0].actions).toEqual([]); // archive needs products.change
    });

    it('is for staff only', async () => {
      const customer = await createTestUser(t.app);
      expect((await t.inject({ url: '/admin/api/schema', headers: customer.headers })).statusCode).toBe(403);
      expect(
        (await t.inject({ url: '/admin/api/schema', headers: { authorization: undefined } })).statusCode,
      ).toBe(401);
    });
  });

  describe('actions', () => {
    const statusOf = async (ids: number[]) =>
      (
        await dataSource.query<{ status: string }[]>(
          'SELECT status FROM product WHERE id = ANY($1) ORDER BY id',
          [ids],
        )
      ).map((r) => r.status);

    it('archives the selected products in one run', async () => {
      const ids = [await createProduct('ACT-1'), await createProduct('ACT-2')];
      const other = await createProduct('ACT-3');
      const res = await asSession(admin, 'POST', '/admin/api/actions/products/archive', { ids });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'done', message: '2 product(s) archived', affected: 2 });
      expect(await statusOf(ids)).toEqual(['archived', 'archived']);
      expect(await statusOf([other])).toEqual(['active']);
      // Each record's history names the action, who ran it, and what it changed.
      const history = await asSession(
        admin,
        'GET',
        `/api/audit-entries?filter[resource]=products&filter[recordId]=${ids[0]}&sort=-at&limit=1`,
      );
      expect(history.json<{ data: unknown[] }>().data).toEqual([
        expect.objectContaining({
          operation: 'action',
          actionName: 'archive',
          actorEmail: staff.email,
          via: 'admin',
          changes: expect.objectContaining({ status: ['active', 'archived'] }),
        }),
      ]);
    });

    it('checks the permission, the action, the ids and that every record exists', async () => {
      const id = await createProduct('ACT-4');
      const session = await sessionOf(viewer);
      expect(
        (await asSession(session, 'POST', '/admin/api/actions/products/archive', { ids: [id] })).statusCode,
      ).toBe(403);
      expect(
        (await asSession(admin, 'POST', '/admin/api/actions/products/explode', { ids: [id] })).statusCode,
      ).toBe(404);
      const empty = await asSession(admin, 'POST', '/admin/api/actions/products/archive', { ids: [] });
      expect(empty.statusCode).toBe(422);
      expect(empty.json()).toMatchObject({ errors: [{ pointer: '/ids' }] });
      const bad = await asSession(admin, 'POST', '/admin/api/actions/products/archive', { ids: [id, 'x'] });
      expect(bad.statusCode).toBe(422);
      const missing = await asSession(admin, 'POST', '/admin/api/actions/products/archive', {
        ids: [id, 99999999],
      });
      expect(missing.statusCode).toBe(404);
      expect(await statusOf([id])).toEqual(['active']); // nothing changed by any refused run
    });

    it('an action that fails rolls back the whole selection (mark as shipped on a cancelled order)', async () => {
      const product = await createProduct('ACT-ORD', '5.00');
      const place = async () =>
        (
          await t.inject({
            method: 'POST',
            url: '/api/orders',
            payload: { items: [{ productId: product, quantity: 1 }] },
          })
        ).json<{ id: number }>().id;
      const [a, b] = [await place(), await place()];
      await t.inject({ method: 'PATCH', url: `/api/orders/${b}`, payload: { status: 'cancelled' } });
      const refused = await asSession(admin, 'POST', '/admin/api/actions/orders/mark-shipped', {
        ids: [a, b],
      });
      expect(refused.statusCode).toBe(409);
      expect(refused.json<{ detail: string }>().detail).toContain(`#${b} is cancelled`);
      const status = async (id: number) =>
        (await dataSource.query<{ status: string }[]>('SELECT status FROM "order" WHERE id = $1', [id]))[0]
          .status;
      expect(await status(a)).toBe('pending');
      // The action's own permission (created at boot) is what counts, not orders.change.
      const clerk = await createTestUser(t.app, {
        isStaff: true,
        permissions: ['orders.view', 'orders.change'],
      });
      const clerkSession = await sessionOf(clerk);
      const refusedClerk = await asSession(clerkSession, 'POST', '/admin/api/actions/orders/mark-shipped', {
        ids: [a],
      });
      expect(refusedClerk.statusCode).toBe(403);
      const shipper = await createTestUser(t.app, {
        isStaff: true,
        permissions: ['orders.view', 'orders.ship'],
      });
      const shipped = await asSession(
        await sessionOf(shipper),
        'POST',
        '/admin/api/actions/orders/mark-shipped',
        {
          ids: [a],
        },
      );
      expect(shipped.statusCode).toBe(200);
      expect(await status(a)).toBe('shipped');
      // Placing the order (a custom route) and the action both show in its history; the refused run does not.
      const history = await asSession(
        admin,
        'GET',
        `/api/audit-entries?filter[resource]=orders&filter[recordId]=${a}`,
      );
      expect(
        history.json<{ data: { operation: string; actionName: string | null; changes: object }[] }>().data,
      ).toEqual([
        expect.objectContaining({
          operation: 'action',
          actionName: 'mark-shipped',
          changes: { status: ['pending', 'shipped'] },
        }),
        expect.objectContaining({
          operation: 'create',
          changes: expect.objectContaining({ total: [null, '5.00'] }),
        }),
      ]);
    });

    it('a job action answers 202 and runs in the background as the user who started it', async () => {
      const product = await createProduct('ACT-JOB', '3.00');
      const order = (
        await t.inject({
          method: 'POST',
          url: '/api/orders',
          payload: { items: [{ productId: product, quantity: 1 }] },
        })
      ).json<{ id: number }>().id;
      await t.app.get(JobsService).drain();
      const mails = () =>
        t.app
          .get(MailService)
          .sent()
          .filter((m) => m.subject === `Your order #${order}`);
      expect(mails()).toHaveLength(1);
      const res = await asSession(admin, 'POST', '/admin/api/actions/orders/resend-confirmation', {
        ids: [order],
      });
      expect(res.statusCode).toBe(202);
      const { jobId, queue } = res.json<{ jobId: string; queue: string }>();
      expect(queue).toBe('admin.action');
      await waitFor('the resent confirmation', () => mails().length === 2);
      const job = await asSession(admin, 'GET', `/admin/api/jobs/queues/admin.action/jobs?state=completed`);
      expect(job.json<{ items: { id: string }[] }>().items.map((j) => j.id)).toContain(jobId);
    });
  });

  describe('user management actions', () => {
    it("sets a password (validated form), ending the user's sessions; a reset link is mailed on request", async () => {
      const user = await createTestUser(t.app);
      const url = '/admin/api/actions/users/set-password';
      const short = await asSession(admin, 'POST', url, { ids: [user.id], input: { password: 'short' } });
      expect(short.statusCode).toBe(422);
      expect(short.json()).toMatchObject({
        errors: [expect.objectContaining({ pointer: '/input/password' })],
      });
      const set = await asSession(admin, 'POST', url, {
        ids: [user.id],
        input: { password: 'set by the admin 1' },
      });
      expect(set.statusCode).toBe(200);
      const tokenLogin = (password: string) =>
        t.inject({
          method: 'POST',
          url: '/api/auth/login',
          headers: { authorization: undefined },
          payload: { email: user.email, password },
        });
      expect((await tokenLogin(user.password)).statusCode).toBe(401);
      expect((await tokenLogin('set by the admin 1')).statusCode).toBe(200);
      const refresh = await t.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        payload: { refreshToken: user.refreshToken },
      });
      expect(refresh.statusCode).toBe(401); // the sessions from before ended

      const reset = await asSession(admin, 'POST', '/admin/api/actions/users/send-password-reset', {
        ids: [user.id],
      });
      expect(reset.json()).toMatchObject({ status: 'done', message: '1 reset link(s) sent' });
      await waitFor('the reset mail', () =>
        t.app
          .get(MailService)
          .sent()
          .some((m) => m.to === user.email && m.subject === 'Reset your password'),
      );
    });

    it("only a superuser sets a superuser's password", async () => {
      const manager = await createTestUser(t.app, {
        isStaff: true,
        permissions: ['users.view', 'users.change'],
      });
      const session = await sessionOf(manager);
      const res = await asSession(session, 'POST', '/admin/api/actions/users/set-password', {
        ids: [staff.id],
        input: { password: 'taken over 12345' },
      });
      expect(res.statusCode).toBe(403);
      expect((await login(staff.email, staff.password)).statusCode).toBe(200);
    });
  });

  describe('CSV export', () => {
    const csv = async (session: Session, url: string) => {
      const res = await asSession(session, 'GET', url);
      return { res, lines: res.body.trim().split('\n') };
    };

    it('streams every page of the filtered list, readable fields only, with a download name', async () => {
      await dataSource.query(
        `INSERT INTO product (name, sku, price, stock, status, "categoryId", version)
         SELECT 'Bulk ' || i, 'CSV-' || i, '1.50', i, 'draft', $1, 1 FROM generate_series(1, 1203) AS i`,
        [categoryId],
      );
      const { res, lines } = await csv(
        admin,
        '/admin/api/export/products.csv?filter[sku][startswith]=CSV-&sort=stock',
      );
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(res.headers['content-disposition']).toMatch(
        /^attachment; filename="products-\d{4}-\d\d-\d\d\.csv"$/,
      );
      expect(lines[0]).toBe(
        'id,name,sku,description,price,stock,status,categoryId,createdAt,updatedAt,version,deletedAt,tagIds',
      );
      expect(lines).toHaveLength(1 + 1203); // three export pages
      expect(lines[1]).toMatch(/^\d+,Bulk 1,CSV-1,,1.50,1,draft,\d+,\d{4}-\d\d-\d\dT[\d:.]+Z,.*,1,,\[\]$/);
      expect(lines.at(-1)).toContain(',Bulk 1203,CSV-1203,');
    });

    it('honours fields=, quotes values with commas, and leaves hidden fields out', async () => {
      await createProduct('CSV-Q', '2.00');
      await t.inject({
        method: 'PATCH',
        url: `/api/products/${(await dataSource.query<{ id: number }[]>("SELECT id FROM product WHERE sku = 'CSV-Q'"))[0].id}`,
        payload: { name: 'Cup, "large"' },
      });
      const { lines } = await csv(admin, '/admin/api/export/products.csv?filter[sku]=CSV-Q&fields=sku,name');
      expect(lines).toEqual(['id,sku,name', expect.stringMatching(/^\d+,CSV-Q,"Cup, ""large"""$/)]);
      const users = await csv(admin, '/admin/api/export/users.csv');
      expect(users.lines[0]).toMatch(/^id,email,/);
      expect(users.lines[0]).not.toMatch(/password|secret|recovery/i);
      expect(users.lines.length).toBeGreaterThanOrEqual(3);
    });

    it('bad queries are 400 before anything is streamed; other resources need their view permission', async () => {
      expect((await csv(admin, '/admin/api/export/products.csv?filter[nope]=1')).res.statusCode).toBe(400);
      expect((await csv(admin, '/admin/api/export/nothing.csv')).res.statusCode).toBe(404);
      const session = await sessionOf(viewer);
      expect((await csv(session, '/admin/api/export/products.csv?limit=5')).res.statusCode).toBe(200);
      expect((await csv(session, '/admin/api/export/categories.csv')).res.statusCode).toBe(403);
    });
  });

  it('dashboard: counts per resource, recent changes, job queue totals', async () => {
    const res = await asSession(admin, 'GET', '/admin/api/dashboard');
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      counts: Record<string, number>;
      recent: unknown[];
      jobs: Record<string, number>;
    }>();
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM product WHERE "deletedAt" IS NULL',
    );
    expect(body.counts.products).toBe(n);
    expect(body.counts.categories).toBeGreaterThanOrEqual(2);
    // Its one-row pages are cached apart from a plain list's answer (the resource cache keys pages).
    const plain = (await t.inject('/api/products')).json<{ data: unknown[]; meta: { limit: number } }>();
    expect({ limit: plain.meta.limit, rows: plain.data.length }).toEqual({
      limit: 20,
      rows: Math.min(n, 20),
    });
    expect(body.jobs).toEqual({
      failed: 0,
      waiting: expect.any(Number),
      active: expect.any(Number),
      delayed: expect.any(Number),
    });
    expect(body.recent.length).toBeGreaterThan(0);
    // Whole audit entries: the UI names a deleted record from what its delete entry kept.
    const [latest] = body.recent as Record<string, unknown>[];
    expect(Object.keys(latest).sort()).toEqual([
      'actionName',
      'actorEmail',
      'actorId',
      'at',
      'changes',
      'id',
      'operation',
      'recordId',
      'resource',
      'via',
    ]);
    expect(latest.changes).toEqual(expect.any(Object));
  });
});
