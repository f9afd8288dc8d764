import type { LightMyRequestResponse } from 'fastify';
import { DataSource, EntitySubscriberInterface } from 'typeorm';
import { Product } from 'src/app/catalog/product.entity';
import { OneStatementCreate } from 'src/framework/resource/one-statement-create';
import { ResourceEvent, ResourceEvents } from 'src/framework/resource/resource-events';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

/**
 * A product create made as ONE statement (OneStatementCreate, the default for products) must answer, store
 * and audit exactly what the ordinary transactional create does, and have the same effects besides its row
 * (cache, events, ETag, prepared statements across a migration). The ordinary path is forced by a subscriber
 * that listens to Product and has no event method at all (it changes nothing but `applies`).
 */
describe('one-statement create of products', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let categoryId: number;
  let n = 0;
  const events: ResourceEvent[] = [];
  const inert: EntitySubscriberInterface = { listenTo: () => Product };

  beforeAll(async () => {
    t = await createTestApp(withFixtures, { as: 'superuser' }); // the answer cache on (products: ttl 60)
    dataSource = t.app.get(DataSource);
    t.app.get(ResourceEvents).listen((event) => void events.push(event));
    const res = await t.inject({ method: 'POST', url: '/api/categories', payload: { name: 'R', slug: 'r' } });
    categoryId = res.json<{ id: number }>().id;
  });
  afterAll(() => t?.close());

  /** POSTs a product; `ordinary` forces the transactional create. Checks which path ran, and no correction. */
  async function create(body: Record<string, unknown>, ordinary: boolean): Promise<LightMyRequestResponse> {
    if (ordinary) {
      dataSource.subscribers.push(inert);
    }
    const spy = jest.spyOn(OneStatementCreate.prototype, 'create');
    const queries = jest.spyOn(dataSource.manager, 'query');
    try {
      const res = await t.inject({ method: 'POST', url: '/api/products', payload: body });
      expect({
        oneStatement: spy.mock.calls.length,
        corrections: queries.mock.calls.filter(([sql]) => String(sql).startsWith('UPDATE "audit_entry"')),
      }).toEqual({ oneStatement: ordinary ? 0 : 1, corrections: [] });
      return res;
    } finally {
      queries.mockRestore();
      spy.mockRestore();
      if (ordinary) {
        dataSource.subscribers.splice(dataSource.subscribers.indexOf(inert), 1);
      }
    }
  }

  const counts = async () =>
    (
      await dataSource.query<{ p: number; a: number }[]>(
        `SELECT (SELECT count(*)::int FROM product) p, (SELECT count(*)::int FROM audit_entry WHERE resource='products') a`,
      )
    )[0];

  describe('against the ordinary create', () => {
    /** What must be equal between the two paths: everything but the id, sku, name and timestamps. */
    async function observed(res: LightMyRequestResponse) {
      const body = res.json<Record<string, unknown>>();
      const get = await t.inject(`/api/products/${String(body.id)}`);
      const [entry] = await dataSource.query<Record<string, unknown>[]>(
        `SELECT "actorId", "actorEmail", via, resource, "recordId", operation, "actionName", changes
           FROM audit_entry WHERE resource = 'products' AND "recordId" = $1`,
        [String(body.id)],
      );
      const { id, sku, name, createdAt, updatedAt, ...rest } = body;
      const changes = { ...(entry.changes as Record<string, unknown>) };
      delete changes.sku;
      delete changes.name;
      return {
        status: res.statusCode,
        contentType: res.headers['content-type'],
        location: res.headers.location === `/api/products/${String(id)}`,
        etagMatchesGet: res.headers.etag === get.headers.etag,
        bodyMatchesGet: res.body === get.body,
        keys: Object.keys(body),
        types: [typeof createdAt, typeof updatedAt, typeof sku, typeof name],
        rest,
        entry: { ...entry, recordId: entry.recordId === String(id), changes },
      };
    }

    const bodies: Record<string, (i: number) => Record<string, unknown>> = {
      minimal: (i) => ({ name: `min ${i}`, sku: `R-${i}`, price: '3.00', categoryId }),
      full: (i) => ({
        name: `full ${i}`,
        sku: `R-${i}`,
        price: 12.5,
        categoryId,
        description: 'd',
        stock: 4,
        status: 'active',
        tagIds: [],
      }),
      nulls: (i) => ({ name: `null ${i}`, sku: `R-${i}`, price: '0.1', categoryId, description: null }),
      integer: (i) => ({ name: `int ${i}`, sku: `R-${i}`, price: 7, categoryId, stock: 0 }),
    };

    for (const [label, body] of Object.entries(bodies)) {
      it(`answers, reads back and audits a ${label} create the same way on both paths`, async () => {
        const one = await observed(await create(body(++n), false));
        const ordinary = await observed(await create(body(++n), true));
        expect(one).toEqual(ordinary);
      });
    }

    it('answers a duplicate sku the same way on both paths and writes nothing', async () => {
      await create(bodies.minimal(++n), false);
      const dup = bodies.minimal(n);
      const before = await counts();
      const one = await create({ ...dup, name: 'dup' }, false);
      const ordinary = await create({ ...dup, name: 'dup' }, true);
      expect(await counts()).toEqual(before);
      expect({
        status: one.statusCode,
        body: { ...one.json(), requestId: 0 },
        type: one.headers['content-type'],
      }).toEqual({
        status: ordinary.statusCode,
        body: { ...ordinary.json(), requestId: 0 },
        type: ordinary.headers['content-type'],
      });
      expect(one.statusCode).toBe(409);
    });

    it('answers a missing category the same way on both paths and writes nothing', async () => {
      const before = await counts();
      const one = await create({ ...bodies.minimal(++n), categoryId: 999999 }, false);
      const ordinary = await create({ ...bodies.minimal(++n), categoryId: 999999 }, true);
      expect(await counts()).toEqual(before);
      expect({ status: one.statusCode, body: { ...one.json(), requestId: 0 } }).toEqual({
        status: ordinary.statusCode,
        body: { ...ordinary.json(), requestId: 0 },
      });
    });
  });

  describe('effects besides its row', () => {
    const body = () => ({ name: `eff ${++n}`, sku: `EFF-${n}`, price: '2.00', categoryId });
    const post = () => t.inject({ method: 'POST', url: '/api/products', payload: body() });
    let spy: jest.SpyInstance;
    beforeEach(() => (spy = jest.spyOn(OneStatementCreate.prototype, 'create')));
    afterEach(() => spy.mockRestore());

    it('invalidates cached lists, tells listeners once, and its ETag is accepted by If-Match', async () => {
      const listed = async () =>
        (await t.inject('/api/products?limit=100&sort=id'))
          .json<{ data: { id: number }[] }>()
          .data.map((r) => r.id);
      await listed(); // cached now
      const res = await post();
      expect(res.statusCode).toBe(201);
      expect(spy).toHaveBeenCalledTimes(1);
      const created = res.json<{ id: number }>();
      expect(await listed()).toContain(created.id);
      expect(
        events.filter(
          (e) => e.definition.path === 'products' && e.operation === 'create' && e.id === created.id,
        ),
      ).toHaveLength(1);
      expect(
        JSON.parse(
          JSON.stringify(events.find((e) => e.definition.path === 'products' && e.id === created.id)!.row),
        ),
      ).toEqual(created);
      const patched = await t.inject({
        method: 'PATCH',
        url: `/api/products/${created.id}`,
        payload: { stock: 3 },
        headers: { 'if-match': String(res.headers.etag) },
      });
      expect(patched.statusCode).toBe(200);
      const [entries] = await dataSource.query<{ ops: string[] }[]>(
        `SELECT array_agg(operation ORDER BY id) ops FROM audit_entry WHERE resource='products' AND "recordId"=$1`,
        [String(created.id)],
      );
      expect(entries.ops).toEqual(['create', 'update']);
    });

    // Last: it changes the schema, as a rolling deploy's migration does while this process serves.
    it('creates each product once after a returned column changed type, on every pooled connection', async () => {
      await Promise.all(Array.from({ length: 20 }, () => post())); // prepared on every pooled connection
      await dataSource.query('ALTER TABLE product ALTER COLUMN name TYPE varchar(300)');
      const before = (await dataSource.query<{ n: number }[]>('SELECT count(*)::int n FROM product'))[0].n;
      const answers = await Promise.all(Array.from({ length: 20 }, () => post()));
      expect(new Set(answers.map((a) => a.statusCode))).toEqual(new Set([201]));
      const after = (await dataSource.query<{ n: number }[]>('SELECT count(*)::int n FROM product'))[0].n;
      expect(after - before).toBe(20);
      const [{ dupes }] = await dataSource.query<{ dupes: number }[]>(
        `SELECT count(*)::int dupes FROM (SELECT "recordId" FROM audit_entry WHERE resource='products'
           AND operation='create' GROUP BY "recordId" HAVING count(*) > 1) d`,
      );
      expect(dupes).toBe(0);
      expect(spy).toHaveBeenCalledTimes(40);
    });
  });
});
