import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { AuditService } from 'src/framework/audit/audit.service';
import { TestApp, TestUser, createTestApp, createTestUser } from 'src/framework/testing';

/**
 * Audit history and the trash view on real PostgreSQL: every write through a generated resource leaves
 * one entry with its diff in the same transaction, the log is a read-only staff resource, and
 * `trashed=only|with` shows soft-deleted rows to callers who may change them.
 */

const HOST = 'shop.test';
const ORIGIN = `http://${HOST}`;

interface Entry {
  id: string;
  at: string;
  actorId: number | null;
  actorEmail: string | null;
  via: string;
  resource: string;
  recordId: string;
  operation: string;
  actionName: string | null;
  changes: Record<string, [unknown, unknown]>;
}

interface Product {
  id: number;
  name: string;
  sku: string;
  price: string;
  deletedAt: string | null;
}

interface List<T> {
  data: T[];
  meta: { total: number };
}

describe('Audit history and trash', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let superuser: TestUser;
  let categoryId: number;
  let skus = 0;

  const post = (url: string, payload: object, headers: Record<string, string | undefined> = {}) =>
    t.inject({ method: 'POST', url, payload, headers });
  const patch = (url: string, payload: object, headers: Record<string, string | undefined> = {}) =>
    t.inject({ method: 'PATCH', url, payload, headers });
  const del = (url: string) => t.inject({ method: 'DELETE', url });
  const json = <T>(res: LightMyRequestResponse, status = 200): T => {
    expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
    return res.json<T>();
  };

  const createProduct = async (fields: Record<string, unknown> = {}): Promise<Product> =>
    json<Product>(
      await post('/api/products', {
        name: `Cup ${++skus}`,
        sku: `AUDIT-${skus}`,
        price: '10.00',
        status: 'active',
        categoryId,
        ...fields,
      }),
      201,
    );
  /** A record's history, newest first, as the admin asks for it. */
  const history = async (resource: string, recordId: unknown, headers = {}): Promise<Entry[]> =>
    json<List<Entry>>(
      await t.inject({
        url: `/api/audit-entries?filter[resource]=${resource}&filter[recordId]=${String(recordId)}&sort=-at`,
        headers,
      }),
    ).data;
  const countEntries = async (): Promise<number> =>
    (await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM audit_entry'))[0].n;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { PUBLIC_URL: ORIGIN } });
    dataSource = t.app.get(DataSource);
    superuser = t.superuser!;
    categoryId = json<{ id: number }>(
      await post('/api/categories', { name: 'Audit', slug: 'audit' }),
      201,
    ).id;
  });
  afterAll(() => t?.close());

  describe('recording', () => {
    it('records create, update, delete and restore of a product with who, how and the changed fields', async () => {
      const made = await createProduct({ name: 'Espresso cup', description: null });
      json(await patch(`/api/products/${made.id}`, { price: '12.50' }));
      expect((await del(`/api/products/${made.id}`)).statusCode).toBe(204);
      const deleted = json<Product>(await t.inject(`/api/products/${made.id}?trashed=with`));
      json(await post(`/api/products/${made.id}/restore`, {}));

      const entries = await history('products', made.id);
      expect(entries.map((e) => e.operation)).toEqual(['restore', 'delete', 'update', 'create']);
      for (const entry of entries) {
        expect(entry).toMatchObject({
          actorId: superuser.id,
          actorEmail: superuser.email,
          via: 'api',
          resource: 'products',
          recordId: String(made.id),
          actionName: null,
        });
        expect(entry.id).toMatch(/^\d+$/); // bigint ids travel as strings
        expect(new Date(entry.at).toISOString()).toBe(entry.at);
      }
      const [restore, remove, update, create] = entries;
      // Only the fields set, never the bookkeeping columns the entry already covers.
      expect(create.changes).toEqual({
        name: [null, 'Espresso cup'],
        sku: [null, made.sku],
        price: [null, '10.00'],
        stock: [null, 0],
        status: [null, 'active'],
        categoryId: [null, categoryId],
      });
      expect(update.changes).toEqual({ price: ['10.00', '12.50'] });
      expect(remove.changes).toMatchObject({ name: ['Espresso cup', null], price: ['12.50', null] });
      expect(remove.changes).not.toHaveProperty('description'); // it had no value
      expect(restore.changes).toEqual({ deletedAt: [deleted.deletedAt, null] });
      expect(deleted.deletedAt).toEqual(expect.any(String));
    });

    it('records to-many changes and hard deletes', async () => {
      const tag = json<{ id: number }>(await post('/api/tags', { name: 'audited' }), 201);
      const made = await createProduct();
      json(await patch(`/api/products/${made.id}`, { tagIds: [tag.id] }));
      expect((await del(`/api/tags/${tag.id}`)).statusCode).toBe(204);
      expect((await history('products', made.id))[0].changes).toEqual({ tagIds: [[], [tag.id]] });
      const [tagDeleted] = await history('tags', tag.id);
      expect(tagDeleted).toMatchObject({ operation: 'delete', changes: { name: ['audited', null] } });
    });

    it('records relations by id; the admin names them with one request per resource, a deleted target absent', async () => {
      const other = json<{ id: number }>(
        await post('/api/categories', { name: 'Other', slug: 'other' }),
        201,
      );
      const kept = json<{ id: number }>(await post('/api/tags', { name: 'kept' }), 201).id;
      const gone = json<{ id: number }>(await post('/api/tags', { name: 'gone' }), 201).id;
      const made = await createProduct();
      json(await patch(`/api/products/${made.id}`, { categoryId: other.id, tagIds: [kept, gone] }));
      expect((await del(`/api/tags/${gone}`)).statusCode).toBe(204);
      const [moved] = await history('products', made.id);
      expect(moved.changes).toEqual({ categoryId: [categoryId, other.id], tagIds: [[], [kept, gone]] });

      // The admin schema says which fields are relations, and to which resource and title field.
      const schema = json<{
        resources: { path: string; titleField: string; fields: { name: string; relation: unknown }[] }[];
      }>(await t.inject('/admin/api/schema'));
      const products = schema.resources.find((r) => r.path === 'products')!;
      const relationOf = (name: string) => products.fields.find((f) => f.name === name)?.relation;
      expect([relationOf('categoryId'), relationOf('tagIds')]).toEqual([
        { resource: 'categories', cardinality: 'toOne' },
        { resource: 'tags', cardinality: 'toMany' },
      ]);
      expect(schema.resources.find((r) => r.path === 'tags')?.titleField).toBe('name');
      // One request names every tag of a page of history; the deleted one is absent (the UI shows "#id").
      const named = json<List<{ id: number; name: string }>>(
        await t.inject(`/api/tags?filter[id][in]=${kept},${gone}`),
      );
      expect(named.data.map((tag) => [tag.id, tag.name])).toEqual([[kept, 'kept']]);
    });

    it('records nothing for a write that is refused or rolled back', async () => {
      const made = await createProduct();
      const before = await countEntries();
      expect(
        (await post('/api/products', { name: '', sku: 'bad sku', price: '-1', categoryId })).statusCode,
      ).toBe(422);
      expect(
        (await post('/api/products', { name: 'Dup', sku: made.sku, price: '1', categoryId })).statusCode,
      ).toBe(409);
      expect((await patch(`/api/products/${made.id}`, { price: 'ten' })).statusCode).toBe(422);
      const stale = await patch(`/api/products/${made.id}`, { stock: 1 }, { 'if-match': '"stale"' });
      expect(stale.statusCode).toBe(412);
      expect(await countEntries()).toBe(before);
      expect((await history('products', made.id)).map((e) => e.operation)).toEqual(['create']);
    });

    it('AuditService.record writes in the caller’s transaction: a rollback leaves no entry', async () => {
      const audit = t.app.get(AuditService);
      const before = await countEntries();
      await expect(
        dataSource.transaction(async (manager) => {
          await audit.record(manager, {
            resource: 'products',
            recordId: 1,
            operation: 'action',
            actionName: 'x',
          });
          throw new Error('the action failed');
        }),
      ).rejects.toThrow('the action failed');
      expect(await countEntries()).toBe(before);

      await dataSource.transaction((manager) =>
        audit.record(
          manager,
          [1, 2].map((id) => ({
            resource: 'products',
            recordId: id,
            operation: 'action' as const,
            actionName: 'archive',
          })),
        ),
      );
      const entries = json<List<Entry>>(
        await t.inject('/api/audit-entries?filter[operation]=action&filter[actionName]=archive'),
      ).data;
      expect(entries.map((e) => [e.recordId, e.via, e.actorId])).toEqual([
        ['2', 'system', null],
        ['1', 'system', null],
      ]);
    });

    it('never shows a user’s password hash or 2FA secrets', async () => {
      const created = json<{ id: number }>(
        await post('/api/users', { email: 'Audited@Example.com', isStaff: true }),
        201,
      );
      await dataSource.query(
        `UPDATE "user" SET "passwordHash" = 'argon2-secret-hash', "totpSecret" = 'totp-secret' WHERE id = $1`,
        [created.id],
      );
      json(await patch(`/api/users/${created.id}`, { isActive: false }));
      const entries = await history('users', created.id);
      expect(entries.map((e) => e.operation)).toEqual(['update', 'create']);
      expect(entries[0].changes).toEqual({ isActive: [true, false] });
      expect(entries[1].changes).toMatchObject({
        email: [null, 'audited@example.com'],
        isStaff: [null, true],
      });
      const raw = JSON.stringify(entries);
      for (const secret of [
        'passwordHash',
        'totpSecret',
        'totpRecoveryCodes',
        'argon2-secret-hash',
        'totp-secret',
      ]) {
        expect(raw).not.toContain(secret);
      }
    });

    it("records writes made in the admin panel's session as via admin", async () => {
      const login = await t.inject({
        method: 'POST',
        url: '/admin/api/session',
        headers: { authorization: undefined, host: HOST, origin: ORIGIN },
        payload: { email: superuser.email, password: superuser.password },
      });
      expect(login.statusCode).toBe(200);
      const cookies = [login.headers['set-cookie'] ?? []].flat();
      const cookie = cookies.find((c) => c.startsWith('nestor_session='))!.split(';')[0];
      const made = await createProduct();
      const res = await patch(
        `/api/products/${made.id}`,
        { name: 'Renamed in the admin' },
        {
          authorization: undefined,
          host: HOST,
          origin: ORIGIN,
          cookie,
          'x-csrf-token': login.json<{ csrfToken: string }>().csrfToken,
        },
      );
      expect(res.statusCode).toBe(200);
      const [entry] = await history('products', made.id);
      expect(entry).toMatchObject({
        operation: 'update',
        via: 'admin',
        actorId: superuser.id,
        changes: { name: [made.name, 'Renamed in the admin'] },
      });
    });
  });

  describe('the audit-entries resource', () => {
    it('is read-only: writes have no route', async () => {
      const [entry] = json<List<Entry>>(await t.inject('/api/audit-entries?limit=1')).data;
      for (const res of [
        await post('/api/audit-entries', { resource: 'products', recordId: '1', operation: 'create' }),
        await patch(`/api/audit-entries/${entry.id}`, { operation: 'delete' }),
        await del(`/api/audit-entries/${entry.id}`),
      ]) {
        expect([404, 405]).toContain(res.statusCode);
      }
      expect(json<Entry>(await t.inject(`/api/audit-entries/${entry.id}`))).toEqual(entry);
    });

    it('is for staff only, and each staff member sees the history of what they may view', async () => {
      const customer = await createTestUser(t.app, { permissions: ['audit-entries.view', 'products.view'] });
      expect((await t.inject({ url: '/api/audit-entries', headers: customer.headers })).statusCode).toBe(403);
      expect(
        (await t.inject({ url: '/api/audit-entries', headers: { authorization: undefined } })).statusCode,
      ).toBe(401);
      const noPermission = await createTestUser(t.app, { isStaff: true });
      expect((await t.inject({ url: '/api/audit-entries', headers: noPermission.headers })).statusCode).toBe(
        403,
      );

      const catalogue = await createTestUser(t.app, {
        isStaff: true,
        permissions: ['audit-entries.view', 'products.view'],
      });
      const made = await createProduct();
      const user = json<{ id: number }>(
        await post('/api/users', { email: 'hidden-history@example.com' }),
        201,
      );
      expect(await history('products', made.id, catalogue.headers)).toHaveLength(1);
      expect(await history('users', user.id, catalogue.headers)).toEqual([]);
      const all = json<List<Entry>>(
        await t.inject({ url: '/api/audit-entries?limit=100', headers: catalogue.headers }),
      );
      expect(new Set(all.data.map((e) => e.resource))).toEqual(new Set(['products']));
      const [userEntry] = await history('users', user.id);
      expect(
        (await t.inject({ url: `/api/audit-entries/${userEntry.id}`, headers: catalogue.headers }))
          .statusCode,
      ).toBe(404);
    });

    it('filters by resource, record, operation, actor and time, newest first, and searches the actor', async () => {
      const made = await createProduct();
      json(await patch(`/api/products/${made.id}`, { stock: 3 }));
      json(await patch(`/api/products/${made.id}`, { stock: 4 }));
      const entries = await history('products', made.id);
      expect(entries.map((e) => [e.operation, e.changes.stock])).toEqual([
        ['update', [3, 4]],
        ['update', [0, 3]],
        ['create', [null, 0]],
      ]);
      const ats = entries.map((e) => e.at);
      expect([...ats].sort().reverse()).toEqual(ats);

      const since = encodeURIComponent(entries[1].at);
      const updates = json<List<Entry>>(
        await t.inject(
          `/api/audit-entries?filter[resource]=products&filter[recordId]=${made.id}&filter[operation]=update&filter[at][gte]=${since}`,
        ),
      );
      expect(updates.data.map((e) => e.id)).toEqual(entries.slice(0, 2).map((e) => e.id));
      const mine = json<List<Entry>>(
        await t.inject(
          `/api/audit-entries?filter[actorId]=${superuser.id}&q=${encodeURIComponent(superuser.email)}`,
        ),
      );
      expect(mine.meta.total).toBeGreaterThanOrEqual(3);
      expect(mine.data.every((e) => e.actorEmail === superuser.email)).toBe(true);
      expect((await t.inject('/api/audit-entries?filter[changes]=x')).statusCode).toBe(400);
      expect((await t.inject('/api/audit-entries?sort=resource')).statusCode).toBe(400);
    });
  });

  describe('trash: trashed=only|with', () => {
    let live: Product;
    let gone: Product;
    let scope: string;

    beforeAll(async () => {
      const category = json<{ id: number }>(
        await post('/api/categories', { name: 'Trash', slug: 'trash' }),
        201,
      );
      live = await createProduct({ categoryId: category.id });
      gone = await createProduct({ categoryId: category.id });
      expect((await del(`/api/products/${gone.id}`)).statusCode).toBe(204);
      scope = `/api/products?filter[categoryId]=${category.id}&sort=id`;
    });

    it('lists only the deleted rows, or all of them, with matching totals', async () => {
      const ids = async (url: string, headers = {}) => {
        const body = json<List<Product>>(await t.inject({ url, headers }));
        expect(body.meta.total).toBe(body.data.length);
        return body.data.map((p) => p.id);
      };
      expect(await ids(scope)).toEqual([live.id]);
      expect(await ids(`${scope}&trashed=only`)).toEqual([gone.id]);
      expect(await ids(`${scope}&trashed=with`)).toEqual([live.id, gone.id]);
      const trash = json<List<Product>>(await t.inject(`${scope}&trashed=only`)).data;
      expect(trash[0].deletedAt).toEqual(expect.any(String));
    });

    it('shows one deleted row with trashed=with (so it can be restored); only finds deleted ones with only', async () => {
      expect((await t.inject(`/api/products/${gone.id}`)).statusCode).toBe(404);
      expect(json<Product>(await t.inject(`/api/products/${gone.id}?trashed=with`))).toMatchObject({
        id: gone.id,
        deletedAt: expect.any(String),
      });
      expect(json<Product>(await t.inject(`/api/products/${live.id}?trashed=with`)).deletedAt).toBeNull();
      expect(json<Product>(await t.inject(`/api/products/${gone.id}?trashed=only`)).id).toBe(gone.id);
      expect((await t.inject(`/api/products/${live.id}?trashed=only`)).statusCode).toBe(404);
    });

    it('needs the change permission, even where reading is public', async () => {
      const viewer = await createTestUser(t.app, { permissions: ['products.view'] });
      const editor = await createTestUser(t.app, { permissions: ['products.change'] });
      const anonymous = { authorization: undefined };
      expect((await t.inject({ url: scope, headers: anonymous })).statusCode).toBe(200);
      expect((await t.inject({ url: `${scope}&trashed=only`, headers: anonymous })).statusCode).toBe(401);
      const refused = await t.inject({ url: `${scope}&trashed=only`, headers: viewer.headers });
      expect(refused.statusCode).toBe(403);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.json<{ detail: string }>().detail).toContain('products.change');
      expect(
        (await t.inject({ url: `/api/products/${gone.id}?trashed=with`, headers: viewer.headers }))
          .statusCode,
      ).toBe(403);
      expect((await t.inject({ url: `${scope}&trashed=only`, headers: editor.headers })).statusCode).toBe(
        200,
      );
    });

    it('is a 400 with any other value, and on resources without soft delete', async () => {
      for (const url of [
        `${scope}&trashed=all`,
        `${scope}&trashed=`,
        `${scope}&trashed=only&trashed=with`,
        `/api/products/${gone.id}?trashed=yes`,
        '/api/categories?trashed=only',
        `/api/categories/${categoryId}?trashed=with`,
      ]) {
        const res = await t.inject(url);
        expect({ url, status: res.statusCode }).toEqual({ url, status: 400 });
        expect(res.json<{ errors: { parameter: string }[] }>().errors[0].parameter).toBe('trashed');
      }
    });

    it('is declared as a typed parameter in the OpenAPI document where it applies', async () => {
      type Parameter = { name: string; schema: { enum?: string[] } };
      const paths = json<{ paths: Record<string, { get: { parameters: Parameter[] } }> }>(
        await t.inject('/docs-json'),
      ).paths;
      const trashed = (path: string) => paths[path].get.parameters.find((p) => p.name === 'trashed');
      expect(trashed('/api/products')?.schema).toEqual({ type: 'string', enum: ['only', 'with'] });
      expect(trashed('/api/products/{id}')?.schema).toEqual({ type: 'string', enum: ['only', 'with'] });
      expect(trashed('/api/categories')).toBeUndefined();
      expect(trashed('/api/categories/{id}')).toBeUndefined();
    });
  });
});
