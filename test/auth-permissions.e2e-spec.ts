import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { TestApp, TestUser, TestUserOptions, createTestApp, createTestUser } from 'src/framework/testing';

interface ProblemBody {
  type: string;
  status: number;
  detail?: string;
  errors?: { pointer?: string; code: string; message: string }[];
}

interface ListBody<T> {
  data: T[];
  meta: { total: number };
}

interface OrderRow {
  id: number;
  status: string;
  customerId: number | null;
  items?: { id: number; orderId: number }[];
}

interface OrderItemRow {
  id: number;
  orderId: number;
  order: { id: number; customerId: number | null } | null;
}

interface UserRow {
  id: number;
  email: string;
  isStaff: boolean;
  isSuperuser: boolean;
  permissionIds: number[];
  groupIds: number[];
  [field: string]: unknown;
}

/** Asserts an RFC 9457 problem response with this status and returns its body. */
function problem(res: LightMyRequestResponse, status: number): ProblemBody {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.json<ProblemBody>();
}

describe('authorization: permissions per action, ownership, staff-only users and groups', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let categoryId: number;
  let sku = 0;

  const sql = <T>(text: string, parameters: unknown[] = []): Promise<T[]> =>
    dataSource.query<T[]>(text, parameters);

  /** One request, anonymous unless a user is given. */
  const call = (
    method: InjectOptions['method'],
    url: string,
    user?: TestUser,
    payload?: object,
  ): Promise<LightMyRequestResponse> =>
    t.inject({
      method,
      url,
      headers: { ...user?.headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
      ...(payload ? { payload: JSON.stringify(payload) } : {}),
    });
  const user = (options: TestUserOptions = {}): Promise<TestUser> => createTestUser(t.app, options);

  async function product(stock = 100): Promise<number> {
    sku += 1;
    const [row] = await sql<{ id: number }>(
      `INSERT INTO product (name, sku, price, stock, status, "categoryId", version)
       VALUES ($1, $2, '5.00', $3, 'active', $4, 1) RETURNING id`,
      [`Permission product ${sku}`, `PERM-${sku}`, stock, categoryId],
    );
    return row.id;
  }
  const productBody = (): object => {
    sku += 1;
    return { name: `Posted ${sku}`, sku: `POST-${sku}`, price: '1.00', categoryId };
  };
  const permissionId = async (codename: string): Promise<number> =>
    (await sql<{ id: number }>('SELECT id FROM permission WHERE codename = $1', [codename]))[0].id;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot);
    dataSource = t.app.get(DataSource);
    [{ id: categoryId }] = await sql<{ id: number }>(
      `INSERT INTO category (name, slug) VALUES ('Perms', 'perms') RETURNING id`,
    );
  });
  afterAll(() => t.close());

  describe('permission matrix on products', () => {
    let productId: number;
    beforeAll(async () => {
      productId = await product();
    });

    it('anonymous callers may list and get (public) but not write: 401 with WWW-Authenticate', async () => {
      expect((await call('GET', '/api/products')).statusCode).toBe(200);
      expect((await call('GET', `/api/products/${productId}`)).statusCode).toBe(200);
      const writes = [
        call('POST', '/api/products', undefined, productBody()),
        call('PATCH', `/api/products/${productId}`, undefined, { stock: 1 }),
        call('DELETE', `/api/products/${productId}`),
        call('POST', `/api/products/${productId}/restore`),
      ];
      for (const res of await Promise.all(writes)) {
        problem(res, 401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    });

    it('a signed-in user without permissions gets 403 for create, update, delete and restore', async () => {
      const nobody = await user();
      expect((await call('GET', '/api/products', nobody)).statusCode).toBe(200);
      expect((await call('GET', `/api/products/${productId}`, nobody)).statusCode).toBe(200);
      problem(await call('POST', '/api/products', nobody, productBody()), 403);
      problem(await call('PATCH', `/api/products/${productId}`, nobody, { stock: 1 }), 403);
      problem(await call('DELETE', `/api/products/${productId}`, nobody), 403);
      const body = problem(await call('POST', `/api/products/${productId}/restore`, nobody), 403);
      expect(body.detail).toContain('products.change');
      expect(
        (await sql<{ stock: number }>('SELECT stock FROM product WHERE id = $1', [productId]))[0].stock,
      ).toBe(100);
    });

    it('products.add allows create only', async () => {
      const adder = await user({ permissions: ['products.add'] });
      const created = await call('POST', '/api/products', adder, productBody());
      expect(created.statusCode).toBe(201);
      const id = created.json<{ id: number }>().id;
      problem(await call('PATCH', `/api/products/${id}`, adder, { stock: 5 }), 403);
      problem(await call('DELETE', `/api/products/${id}`, adder), 403);
      problem(await call('POST', `/api/products/${id}/restore`, adder), 403);
    });

    it('products.change allows update and restore only', async () => {
      const changer = await user({ permissions: ['products.change'] });
      const id = await product();
      const updated = await call('PATCH', `/api/products/${id}`, changer, { stock: 7 });
      expect(updated.statusCode).toBe(200);
      expect(updated.json<{ stock: number }>().stock).toBe(7);
      await sql('UPDATE product SET "deletedAt" = now() WHERE id = $1', [id]);
      const restored = await call('POST', `/api/products/${id}/restore`, changer);
      expect(restored.statusCode).toBe(200);
      expect((await call('GET', `/api/products/${id}`)).statusCode).toBe(200);
      problem(await call('POST', '/api/products', changer, productBody()), 403);
      problem(await call('DELETE', `/api/products/${id}`, changer), 403);
    });

    it('products.delete allows delete only', async () => {
      const deleter = await user({ permissions: ['products.delete'] });
      const id = await product();
      problem(await call('PATCH', `/api/products/${id}`, deleter, { stock: 7 }), 403);
      problem(await call('POST', '/api/products', deleter, productBody()), 403);
      expect((await call('DELETE', `/api/products/${id}`, deleter)).statusCode).toBe(204);
      problem(await call('GET', `/api/products/${id}`), 404);
      problem(await call('POST', `/api/products/${id}/restore`, deleter), 403);
    });

    it('grants through a group, read fresh on every request (removal takes effect at once)', async () => {
      const member = await user();
      const [{ id: groupId }] = await sql<{ id: number }>(
        `INSERT INTO auth_group (name) VALUES ('catalogue editors') RETURNING id`,
      );
      await sql(
        `INSERT INTO group_permissions ("groupId", "permissionId")
         SELECT $1, id FROM permission WHERE codename IN ('products.add', 'products.change')`,
        [groupId],
      );
      await sql('INSERT INTO user_groups ("userId", "groupId") VALUES ($1, $2)', [member.id, groupId]);
      const created = await call('POST', '/api/products', member, productBody());
      expect(created.statusCode).toBe(201);
      const id = created.json<{ id: number }>().id;
      expect((await call('PATCH', `/api/products/${id}`, member, { stock: 3 })).statusCode).toBe(200);
      problem(await call('DELETE', `/api/products/${id}`, member), 403);

      await sql('DELETE FROM user_groups WHERE "userId" = $1', [member.id]);
      problem(await call('PATCH', `/api/products/${id}`, member, { stock: 4 }), 403);
    });

    it('a superuser may do everything without being granted anything', async () => {
      const root = await user({ isSuperuser: true });
      const created = await call('POST', '/api/products', root, productBody());
      expect(created.statusCode).toBe(201);
      const id = created.json<{ id: number }>().id;
      expect((await call('PATCH', `/api/products/${id}`, root, { stock: 2 })).statusCode).toBe(200);
      expect((await call('DELETE', `/api/products/${id}`, root)).statusCode).toBe(204);
      expect((await call('POST', `/api/products/${id}/restore`, root)).statusCode).toBe(200);
    });

    it("an inactive user's token is refused with 401, even on public routes", async () => {
      const inactive = await user({ isActive: false, permissions: ['products.add'] });
      problem(await call('GET', '/api/products', inactive), 401);
      problem(await call('POST', '/api/products', inactive, productBody()), 401);

      const deactivated = await user({ permissions: ['products.change'] });
      expect(
        (await call('PATCH', `/api/products/${productId}`, deactivated, { stock: 100 })).statusCode,
      ).toBe(200);
      await sql('UPDATE "user" SET "isActive" = false WHERE id = $1', [deactivated.id]);
      problem(await call('PATCH', `/api/products/${productId}`, deactivated, { stock: 100 }), 401);
    });
  });

  describe('ownership of orders', () => {
    let alice: TestUser;
    let bob: TestUser;
    let aliceOrders: number[];
    let bobOrder: number;
    let productId: number;

    const place = async (customer: TestUser): Promise<OrderRow> => {
      const res = await call('POST', '/api/orders', customer, { items: [{ productId, quantity: 1 }] });
      expect(res.statusCode).toBe(201);
      return res.json<OrderRow>();
    };
    const orderRow = async (id: number) =>
      (
        await sql<{ status: string; customerId: number | null }>(
          'SELECT status, "customerId" FROM "order" WHERE id = $1',
          [id],
        )
      )[0];

    beforeAll(async () => {
      productId = await product(1000);
      alice = await user();
      bob = await user({ permissions: ['order-items.view'] });
      const placed = [await place(alice), await place(alice)];
      aliceOrders = placed.map((o) => o.id);
      bobOrder = (await place(bob)).id;
      expect(placed.every((o) => o.customerId === alice.id)).toBe(true);
    });

    it('placing an order, or reading orders, anonymously is 401', async () => {
      problem(await call('POST', '/api/orders', undefined, { items: [{ productId, quantity: 1 }] }), 401);
      problem(await call('GET', '/api/orders'), 401);
      problem(await call('GET', `/api/orders/${aliceOrders[0]}`), 401);
    });

    it("B gets 404 (never 403) on each of A's orders for get, patch and delete; nothing changes", async () => {
      for (const id of aliceOrders) {
        for (const res of [
          await call('GET', `/api/orders/${id}`, bob),
          await call('GET', `/api/orders/${id}?include=items`, bob),
          await call('PATCH', `/api/orders/${id}`, bob, { status: 'cancelled' }),
          await call('DELETE', `/api/orders/${id}`, bob),
        ]) {
          problem(res, 404);
        }
        expect(await orderRow(id)).toEqual({ status: 'pending', customerId: alice.id });
      }
      // The same answer as for an order that does not exist: nothing tells B the id is taken.
      const missing = problem(await call('GET', '/api/orders/999999', bob), 404);
      const foreign = problem(await call('GET', `/api/orders/${aliceOrders[0]}`, bob), 404);
      expect(foreign.type).toBe(missing.type);
    });

    it("lists, counts, filters and cursors never show B A's orders", async () => {
      const list = await call('GET', '/api/orders?include=items', bob);
      expect(list.statusCode).toBe(200);
      const body = list.json<ListBody<OrderRow>>();
      expect(body.data.map((o) => o.id)).toEqual([bobOrder]);
      expect(body.meta.total).toBe(1);
      expect(body.data[0].items?.every((i) => i.orderId === bobOrder)).toBe(true);

      const filtered = await call('GET', `/api/orders?filter[customerId]=${alice.id}`, bob);
      expect(filtered.json<ListBody<OrderRow>>()).toMatchObject({ data: [], meta: { total: 0 } });
      const pending = await call('GET', '/api/orders?filter[status]=pending&sort=-total', bob);
      expect(pending.json<ListBody<OrderRow>>().data.map((o) => o.id)).toEqual([bobOrder]);
      const paged = await call('GET', '/api/orders?limit=1', bob);
      expect(paged.json<ListBody<OrderRow> & { meta: { nextCursor: string | null } }>().meta).toMatchObject({
        total: 1,
        nextCursor: null,
      });
    });

    it("includes of an owned resource are scoped too: A's order is null in B's include", async () => {
      const res = await call(
        'GET',
        `/api/order-items?include=order&filter[orderId][in]=${[...aliceOrders, bobOrder].join(',')}`,
        bob,
      );
      expect(res.statusCode).toBe(200);
      const lines = res.json<ListBody<OrderItemRow>>().data;
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        if (line.orderId === bobOrder) {
          expect(line.order).toMatchObject({ id: bobOrder, customerId: bob.id });
        } else {
          expect(line.order).toBeNull();
        }
      }
      // Unfiltered, the page is prepared, and a to-one include it may join is joined: not this one.
      const unfiltered = (await call('GET', '/api/order-items?include=order&sort=id', bob)).json<
        ListBody<OrderItemRow>
      >().data;
      expect(unfiltered.map((line) => line.order?.id ?? null)).toEqual(
        unfiltered.map((line) => (line.orderId === bobOrder ? bobOrder : null)),
      );
      // Staff who may view every order see each line's order, filtered or not (then joined).
      const staff = await user({ permissions: ['order-items.view', 'orders.view'] });
      for (const url of [
        `/api/order-items?include=order&filter[orderId][in]=${[...aliceOrders, bobOrder].join(',')}`,
        '/api/order-items?include=order&sort=id',
      ]) {
        const all = (await call('GET', url, staff)).json<ListBody<OrderItemRow>>().data;
        expect(all.map((line) => [line.orderId, line.order?.id, line.order?.customerId]).sort()).toEqual(
          [...aliceOrders.map((id) => [id, id, alice.id]), [bobOrder, bobOrder, bob.id]].sort(),
        );
      }
      // One line by id: the same scope.
      const aliceLine = lines.find((line) => line.orderId === aliceOrders[0])!;
      const one = (caller: TestUser) =>
        call('GET', `/api/order-items/${aliceLine.id}?include=order`, caller).then((res) =>
          res.json<OrderItemRow>(),
        );
      expect((await one(bob)).order).toBeNull();
      expect((await one(staff)).order).toMatchObject({ id: aliceOrders[0], customerId: alice.id });
    });

    it("A sees and changes only A's orders", async () => {
      const list = (await call('GET', '/api/orders', alice)).json<ListBody<OrderRow>>();
      expect(list.data.map((o) => o.id).sort()).toEqual([...aliceOrders].sort());
      expect(list.meta.total).toBe(2);
      problem(await call('GET', `/api/orders/${bobOrder}`, alice), 404);
      const paid = await call('PATCH', `/api/orders/${aliceOrders[0]}`, alice, { status: 'paid' });
      expect(paid.statusCode).toBe(200);
      expect(paid.json<OrderRow>()).toMatchObject({ status: 'paid', customerId: alice.id });
    });

    it('staff with orders.view see every order, but change and delete only their own', async () => {
      const staff = await user({ isStaff: true, permissions: ['orders.view'] });
      const own = await place(staff);
      const list = (await call('GET', '/api/orders?limit=100', staff)).json<ListBody<OrderRow>>();
      const ids = list.data.map((o) => o.id);
      expect(ids).toEqual(expect.arrayContaining([...aliceOrders, bobOrder, own.id]));
      expect(list.meta.total).toBe(
        Number((await sql<{ n: string }>('SELECT count(*) AS n FROM "order"'))[0].n),
      );
      expect((await call('GET', `/api/orders/${bobOrder}`, staff)).statusCode).toBe(200);
      // Without orders.change / orders.delete the writes stay scoped to the caller's own rows.
      problem(await call('PATCH', `/api/orders/${bobOrder}`, staff, { status: 'paid' }), 404);
      problem(await call('DELETE', `/api/orders/${bobOrder}`, staff), 404);
      expect(await orderRow(bobOrder)).toEqual({ status: 'pending', customerId: bob.id });
      expect((await call('PATCH', `/api/orders/${own.id}`, staff, { status: 'paid' })).statusCode).toBe(200);

      const clerk = await user({ isStaff: true, permissions: ['orders.change'] });
      expect((await call('PATCH', `/api/orders/${bobOrder}`, clerk, { status: 'paid' })).statusCode).toBe(
        200,
      );
      // orders.change alone does not reveal the list: reads are scoped by orders.view.
      problem(await call('GET', `/api/orders/${aliceOrders[1]}`, clerk), 404);
      problem(await call('DELETE', `/api/orders/${aliceOrders[1]}`, clerk), 404);
      const remover = await user({ permissions: ['orders.delete'] });
      expect((await call('DELETE', `/api/orders/${aliceOrders[1]}`, remover)).statusCode).toBe(204);
      expect(await orderRow(aliceOrders[1])).toBeUndefined();
    });

    it('customerId in a body is refused with 422 and never changes the owner', async () => {
      const before = (await sql<{ n: string }>('SELECT count(*) AS n FROM "order"'))[0].n;
      const posted = problem(
        await call('POST', '/api/orders', bob, { customerId: alice.id, items: [{ productId, quantity: 1 }] }),
        422,
      );
      expect(posted.errors).toEqual([expect.objectContaining({ pointer: '/customerId' })]);
      expect((await sql<{ n: string }>('SELECT count(*) AS n FROM "order"'))[0].n).toBe(before);

      const patched = problem(
        await call('PATCH', `/api/orders/${aliceOrders[0]}`, alice, { customerId: bob.id }),
        422,
      );
      expect(patched.errors).toEqual([expect.objectContaining({ pointer: '/customerId', code: 'readOnly' })]);
      // Not even a superuser writes the owner through the API.
      const root = await user({ isSuperuser: true });
      problem(await call('PATCH', `/api/orders/${bobOrder}`, root, { customerId: alice.id }), 422);
      expect((await orderRow(aliceOrders[0])).customerId).toBe(alice.id);
      expect((await orderRow(bobOrder)).customerId).toBe(bob.id);
    });
  });

  describe('users and groups: staff-only resources', () => {
    let root: TestUser;
    let plain: TestUser;
    beforeAll(async () => {
      root = await user({ isSuperuser: true, isStaff: true });
      plain = await user();
    });

    it('are 403 for non-staff even with every permission, and 401 anonymously', async () => {
      const nonStaff = await user({
        permissions: ['users.view', 'users.add', 'users.change', 'users.delete', 'groups.view', 'groups.add'],
      });
      for (const res of [
        await call('GET', '/api/users', nonStaff),
        await call('GET', `/api/users/${nonStaff.id}`, nonStaff),
        await call('POST', '/api/users', nonStaff, { email: 'sneaky@example.com' }),
        await call('PATCH', `/api/users/${nonStaff.id}`, nonStaff, { isStaff: true }),
        await call('DELETE', `/api/users/${plain.id}`, nonStaff),
        await call('GET', '/api/groups', nonStaff),
        await call('POST', '/api/groups', nonStaff, { name: 'sneaky' }),
      ]) {
        expect(problem(res, 403).detail).toContain('staff only');
      }
      expect(await sql('SELECT id FROM "user" WHERE email = $1', ['sneaky@example.com'])).toEqual([]);
      expect(await sql(`SELECT id FROM "user" WHERE id = $1 AND "isStaff"`, [nonStaff.id])).toEqual([]);
      problem(await call('GET', '/api/users'), 401);
      problem(await call('GET', '/api/groups'), 401);
    });

    it('staff still need the permission', async () => {
      const staff = await user({ isStaff: true });
      const body = problem(await call('GET', '/api/users', staff), 403);
      expect(body.detail).toContain('users.view');
      problem(await call('GET', '/api/groups', staff), 403);
    });

    it('never return or accept password hashes and 2FA secrets', async () => {
      await sql(`UPDATE "user" SET "totpSecret" = 'secret', "totpRecoveryCodes" = '["x"]' WHERE id = $1`, [
        plain.id,
      ]);
      const viewer = await user({ isStaff: true, permissions: ['users.view'] });
      const list = await call('GET', '/api/users?limit=100', viewer);
      expect(list.statusCode).toBe(200);
      const one = await call('GET', `/api/users/${plain.id}`, viewer);
      expect(one.statusCode).toBe(200);
      for (const text of [list.body, one.body]) {
        expect(text).not.toMatch(/passwordHash|totpSecret|totpRecoveryCodes|totpLastStep|\$argon2/);
      }
      expect(one.json<UserRow>()).toMatchObject({ id: plain.id, email: plain.email, isStaff: false });
      for (const query of ['fields=passwordHash', 'filter[passwordHash][isnull]=false', 'sort=totpSecret']) {
        problem(await call('GET', `/api/users?${query}`, viewer), 400);
      }
      // Search covers the email only, never the hash.
      expect((await call('GET', '/api/users?q=argon2', viewer)).json<ListBody<UserRow>>().data).toEqual([]);
    });

    it('a superuser creates users without a password; emails are normalised and unique case-insensitively', async () => {
      const created = await call('POST', '/api/users', root, { email: 'New.Person@Example.COM' });
      expect(created.statusCode).toBe(201);
      const row = created.json<UserRow>();
      expect(row).toMatchObject({ email: 'new.person@example.com', isStaff: false, isSuperuser: false });
      const [stored] = await sql<{ passwordHash: string | null }>(
        'SELECT "passwordHash" FROM "user" WHERE id = $1',
        [row.id],
      );
      expect(stored.passwordHash).toBeNull();
      // No password login for a null hash.
      problem(
        await call('POST', '/api/auth/login', undefined, {
          email: 'new.person@example.com',
          password: 'test password 123',
        }),
        401,
      );
      const clash = problem(await call('POST', '/api/users', root, { email: 'NEW.person@example.com' }), 409);
      expect(clash.errors?.[0]).toMatchObject({ pointer: '/email', code: 'unique' });
      const renamed = await call('PATCH', `/api/users/${row.id}`, root, { email: 'Renamed@Example.com' });
      expect(renamed.json<UserRow>().email).toBe('renamed@example.com');
      problem(await call('POST', '/api/users', root, { email: 'x@example.com', passwordHash: 'x' }), 422);
      problem(await call('PATCH', `/api/users/${row.id}`, root, { lastLogin: '2024-01-01T00:00:00Z' }), 422);
      problem(await call('PATCH', `/api/users/${row.id}`, root, { emailVerified: true }), 422);
    });

    it('mass assignment of isStaff/isSuperuser by a non-superuser is refused and changes nothing', async () => {
      const manager = await user({ isStaff: true, permissions: ['users.view', 'users.add', 'users.change'] });
      for (const [target, body] of [
        [plain.id, { isStaff: true }],
        [plain.id, { isSuperuser: true, email: 'changed@example.com' }],
        [manager.id, { isSuperuser: true }],
      ] as const) {
        const refused = problem(await call('PATCH', `/api/users/${target}`, manager, body), 403);
        expect(refused.errors?.[0]?.code).toBe('forbidden');
      }
      const [after] = await sql<{ email: string; isStaff: boolean; isSuperuser: boolean }>(
        'SELECT email, "isStaff", "isSuperuser" FROM "user" WHERE id = $1',
        [plain.id],
      );
      expect(after).toEqual({ email: plain.email, isStaff: false, isSuperuser: false });
      expect((await sql(`SELECT 1 FROM "user" WHERE id = $1 AND "isSuperuser"`, [manager.id])).length).toBe(
        0,
      );
      problem(await call('POST', '/api/users', manager, { email: 'boss@example.com', isStaff: true }), 403);
      expect(await sql('SELECT id FROM "user" WHERE email = $1', ['boss@example.com'])).toEqual([]);

      // Unchanged values (a whole admin form sent back) and other fields are fine.
      const ok = await call('PATCH', `/api/users/${plain.id}`, manager, {
        isStaff: false,
        isSuperuser: false,
        isActive: true,
      });
      expect(ok.statusCode).toBe(200);
      // A superuser's account is off limits: changing its email would let the caller reset its password.
      problem(await call('PATCH', `/api/users/${root.id}`, manager, { email: 'mine@example.com' }), 403);
      const deleter = await user({ isStaff: true, permissions: ['users.delete'] });
      problem(await call('DELETE', `/api/users/${root.id}`, deleter), 403);
      expect((await sql('SELECT 1 FROM "user" WHERE id = $1', [root.id])).length).toBe(1);

      const promoted = await call('PATCH', `/api/users/${plain.id}`, root, { isStaff: true });
      expect(promoted.json<UserRow>().isStaff).toBe(true);
      await sql('UPDATE "user" SET "isStaff" = false WHERE id = $1', [plain.id]);
    });

    it('non-superusers grant only permissions they hold, directly or through groups', async () => {
      const manager = await user({
        isStaff: true,
        permissions: ['users.change', 'groups.add', 'groups.change', 'products.view'],
      });
      const view = await permissionId('products.view');
      const remove = await permissionId('products.delete');
      const granted = await call('PATCH', `/api/users/${plain.id}`, manager, { permissionIds: [view] });
      expect(granted.statusCode).toBe(200);
      expect(granted.json<UserRow>().permissionIds).toEqual([view]);

      const refused = problem(
        await call('PATCH', `/api/users/${plain.id}`, manager, { permissionIds: [view, remove] }),
        403,
      );
      expect(refused.errors).toEqual([
        expect.objectContaining({
          pointer: '/permissionIds',
          message: expect.stringContaining('products.delete'),
        }),
      ]);
      problem(await call('PATCH', `/api/users/${manager.id}`, manager, { permissionIds: [remove] }), 403);

      // Groups: a group with a permission the caller lacks can be neither made nor joined.
      problem(await call('POST', '/api/groups', manager, { name: 'deleters', permissionIds: [remove] }), 403);
      expect(await sql(`SELECT id FROM auth_group WHERE name = 'deleters'`)).toEqual([]);
      const group = await call('POST', '/api/groups', manager, { name: 'viewers', permissionIds: [view] });
      expect(group.statusCode).toBe(201);
      const groupId = group.json<{ id: number }>().id;
      problem(await call('PATCH', `/api/groups/${groupId}`, manager, { permissionIds: [view, remove] }), 403);
      const [superGroup] = await sql<{ id: number }>(
        `INSERT INTO auth_group (name) VALUES ('super deleters') RETURNING id`,
      );
      await sql('INSERT INTO group_permissions ("groupId", "permissionId") VALUES ($1, $2)', [
        superGroup.id,
        remove,
      ]);
      const joined = problem(
        await call('PATCH', `/api/users/${manager.id}`, manager, { groupIds: [superGroup.id] }),
        403,
      );
      expect(joined.errors?.[0]).toMatchObject({ pointer: '/groupIds' });
      expect(
        (await call('PATCH', `/api/users/${plain.id}`, manager, { groupIds: [groupId] })).statusCode,
      ).toBe(200);

      const rights = await sql<{ permissionId: number }>(
        'SELECT "permissionId" FROM user_permissions WHERE "userId" = ANY($1)',
        [[plain.id, manager.id]],
      );
      expect(rights.filter((r) => r.permissionId === remove)).toEqual([]);
      expect(await sql('SELECT "groupId" FROM user_groups WHERE "userId" = $1', [manager.id])).toEqual([]);
      const [stored] = await sql<{ ids: number[] }>(
        'SELECT array_agg("permissionId") AS ids FROM group_permissions WHERE "groupId" = $1',
        [groupId],
      );
      expect(stored.ids).toEqual([view]);

      // A superuser may grant anything; the user then holds it through their request's fresh principal.
      const ok = await call('PATCH', `/api/users/${plain.id}`, root, { permissionIds: [view, remove] });
      expect(ok.json<UserRow>().permissionIds.sort()).toEqual([view, remove].sort());
      const id = await product();
      expect((await call('DELETE', `/api/products/${id}`, plain)).statusCode).toBe(204);
    });

    it('groups and users read their permissions through include', async () => {
      const viewer = await user({ isStaff: true, permissions: ['users.view', 'groups.view'] });
      const res = await call('GET', `/api/users/${plain.id}?include=permissions,groups`, viewer);
      expect(res.statusCode).toBe(200);
      const body = res.json<{ permissions: { codename: string }[]; groups: { name: string }[] }>();
      expect(body.permissions.map((p) => p.codename).sort()).toEqual(['products.delete', 'products.view']);
      expect(body.groups.map((g) => g.name)).toEqual(['viewers']);
      const groups = await call('GET', '/api/groups?include=permissions&filter[name]=viewers', viewer);
      expect(groups.json<ListBody<{ permissions: { codename: string }[] }>>().data[0].permissions).toEqual([
        expect.objectContaining({ codename: 'products.view' }),
      ]);
    });
  });
});
