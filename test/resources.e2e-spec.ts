import type { LightMyRequestResponse } from 'fastify';
import { DataSource } from 'typeorm';
import { TestApp, createTestApp } from 'src/framework/testing';
import { withFixtures } from 'test/support/fixtures.module';

/**
 * The generated REST resources of the example shop (docs/architecture.md §4) against real PostgreSQL:
 * the list query language, pagination (page and keyset), sparse fieldsets and includes, writes with
 * validation, ETags and soft delete. Every group seeds its own categories so expected ids are exact.
 */

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: { pointer?: string; parameter?: string; code: string; message: string }[];
}

interface CategoryBody {
  id: number;
  name: string;
  slug: string;
  description: string | null;
  parentId: number | null;
  createdAt: string;
  updatedAt: string;
  parent?: CategoryBody | null;
}

interface TagBody {
  id: number;
  name: string;
}

interface ProductBody {
  id: number;
  name: string;
  sku: string;
  description: string | null;
  price: string;
  stock: number;
  status: 'draft' | 'active' | 'archived';
  categoryId: number;
  createdAt: string;
  updatedAt: string;
  version: number;
  deletedAt: string | null;
  tagIds: number[];
  category?: CategoryBody | null;
  tags?: TagBody[];
}

interface ListBody<T> {
  data: T[];
  meta: { page: number | null; limit: number; total: number; pageCount: number; nextCursor: string | null };
  links: { self: string; next: string | null; prev: string | null };
}

/** Asserts the RFC 9457 envelope every error shares and returns the body. */
function problem(res: LightMyRequestResponse, status: number): ProblemBody {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<ProblemBody>();
  expect(body).toMatchObject({ status, title: expect.any(String), type: expect.any(String) });
  return body;
}

/** The query parameters of a link, as a plain object (`filter[price][gte]` keys stay flat). */
function paramsOf(link: string): Record<string, string> {
  return Object.fromEntries(new URL(link, 'http://localhost').searchParams);
}

describe('generated resources (products, categories, tags) on PostgreSQL', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let skuCounter = 0;

  /** GET that must answer 200; the body is returned typed. */
  async function getJson<T>(url: string): Promise<T> {
    const res = await t.inject(url);
    if (res.statusCode !== 200) {
      throw new Error(`GET ${url} → ${res.statusCode} ${res.body}`);
    }
    return res.json<T>();
  }

  const list = (url: string) => getJson<ListBody<ProductBody>>(url);
  const idsOf = async (url: string) => (await list(url)).data.map((p) => p.id);

  const send = (
    method: 'POST' | 'PATCH' | 'DELETE' | 'PUT',
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) =>
    t.inject({
      method,
      url,
      headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });

  async function created<T>(url: string, payload: unknown): Promise<T> {
    const res = await send('POST', url, payload);
    if (res.statusCode !== 201) {
      throw new Error(`POST ${url} → ${res.statusCode} ${res.body}`);
    }
    return res.json<T>();
  }

  const category = (slug: string, parentId: number | null = null) =>
    created<CategoryBody>('/api/categories', { name: `Cat ${slug}`, slug, parentId });
  const tag = (name: string) => created<TagBody>('/api/tags', { name });
  const product = (fields: Partial<ProductBody> & { categoryId: number }) =>
    created<ProductBody>('/api/products', {
      name: `Product ${++skuCounter}`,
      sku: `SKU-${skuCounter}`,
      price: '1.00',
      ...fields,
    });

  const productCount = async () =>
    (await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM product'))[0].n;

  /** Every id of a listing, following `after=meta.nextCursor` until it is null. */
  async function walk(
    base: string,
    between?: (page: number, last: ProductBody) => Promise<void>,
  ): Promise<number[]> {
    const seen: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const body = await list(cursor === null ? base : `${base}&after=${cursor}`);
      expect(body.meta.page).toBe(page === 0 ? 1 : null);
      seen.push(...body.data.map((p) => p.id));
      cursor = body.meta.nextCursor;
      if (cursor === null) {
        return seen;
      }
      await between?.(page, body.data[body.data.length - 1]);
    }
    throw new Error(`${base}: the cursor never ended`);
  }

  // The filter/sort catalogue: five products in two categories under one root.
  let root: CategoryBody;
  let books: CategoryBody;
  let games: CategoryBody;
  let gift: TagBody;
  let eco: TagBody;
  let sale: TagBody;
  let p1: number;
  let p2: number;
  let p3: number;
  let p4: number;
  let p5: number;
  const catalog = (query: string) =>
    idsOf(`/api/products?filter[categoryId][in]=${books.id},${games.id}&${query}`);

  beforeAll(async () => {
    t = await createTestApp(withFixtures, { as: 'superuser' });
    dataSource = t.app.get(DataSource);
    root = await category('root');
    books = await category('books', root.id);
    games = await category('games', root.id);
    gift = await tag('gift');
    eco = await tag('eco');
    sale = await tag('sale');
    // Created one after another, so createdAt increases p1 → p5.
    const add = async (fields: Partial<ProductBody> & { categoryId: number }) => (await product(fields)).id;
    p1 = await add({
      name: 'Alpha Book',
      sku: 'AB-1',
      price: '5.00',
      stock: 0,
      status: 'active',
      categoryId: books.id,
      tagIds: [gift.id],
      description: 'A paperback about birds',
    });
    p2 = await add({
      name: 'Bravo Book',
      sku: 'BB-2',
      price: '12.50',
      stock: 10,
      status: 'active',
      categoryId: books.id,
      tagIds: [gift.id, eco.id],
    });
    p3 = await add({
      name: 'Charlie Game',
      sku: 'CG-3',
      price: '20.00',
      stock: 10,
      status: 'draft',
      categoryId: games.id,
      tagIds: [eco.id],
      description: 'Board game, 50% off',
    });
    p4 = await add({
      name: 'Delta Game',
      sku: 'DG-4',
      price: '12.50',
      stock: 3,
      status: 'archived',
      categoryId: games.id,
      description: 'Card game',
    });
    p5 = await add({
      name: 'Echo Book',
      sku: 'EB-5',
      price: '99.99',
      stock: 7,
      status: 'active',
      categoryId: books.id,
      tagIds: [sale.id, gift.id, eco.id],
    });
  });
  afterAll(() => t.close());

  describe('filters', () => {
    it.each([
      ['eq', 'filter[price][eq]=12.50', () => [p2, p4]],
      ['eq on an enum', 'filter[status][eq]=draft', () => [p3]],
      ['ne', 'filter[status][ne]=active', () => [p3, p4]],
      ['gt', 'filter[price][gt]=12.5', () => [p3, p5]],
      ['gte', 'filter[price][gte]=12.5', () => [p2, p3, p4, p5]],
      ['lt', 'filter[price][lt]=12.5', () => [p1]],
      ['lte', 'filter[price][lte]=12.50', () => [p1, p2, p4]],
      ['lt on an integer', 'filter[stock][lt]=7', () => [p1, p4]],
      ['in', 'filter[status][in]=active,draft', () => [p1, p2, p3, p5]],
      ['in on a decimal', 'filter[price][in]=5,99.99', () => [p1, p5]],
      ['nin', 'filter[status][nin]=active,archived', () => [p3]],
      ['contains (case-sensitive)', 'filter[name][contains]=Book', () => [p1, p2, p5]],
      ['contains treats _ and % literally', 'filter[name][contains]=_', () => []],
      ['icontains', 'filter[name][icontains]=gAmE', () => [p3, p4]],
      ['startswith', 'filter[sku][startswith]=CG', () => [p3]],
      ['startswith is case-sensitive', 'filter[sku][startswith]=cg', () => []],
      ['between (inclusive)', 'filter[price][between]=5,12.50', () => [p1, p2, p4]],
      ['between on integers', 'filter[stock][between]=3,7', () => [p4, p5]],
    ])('%s: %s', async (_name, query, expected) => {
      expect(await catalog(`${query}&sort=id`)).toEqual(expected());
    });

    it('reads filter[field]=v as equality', async () => {
      expect(await catalog('filter[price]=12.5&sort=id')).toEqual([p2, p4]);
      expect(await catalog('filter[status]=archived')).toEqual([p4]);
      expect(await idsOf(`/api/products?filter[categoryId]=${games.id}&sort=id`)).toEqual([p3, p4]);
    });

    it('isnull on a nullable field (category.parentId)', async () => {
      const scope = 'filter[slug][in]=root,books,games&sort=id';
      const cats = async (query: string) =>
        (await getJson<ListBody<CategoryBody>>(`/api/categories?${scope}&${query}`)).data.map((c) => c.id);
      expect(await cats('filter[parentId][isnull]=true')).toEqual([root.id]);
      expect(await cats('filter[parentId][isnull]=false')).toEqual([books.id, games.id]);
      expect(await cats('filter[parentId][isnull]=1')).toEqual([root.id]);
    });

    it('filters datetimes by the values the API shows (stored to the µs, rendered to the ms)', async () => {
      const all = await list(`/api/products?filter[categoryId][in]=${books.id},${games.id}&sort=id`);
      const shown = all.data.map((p) => ({ id: p.id, at: p.createdAt }));
      // ISO strings of one format order like the instants they name.
      const where = (keep: (at: string) => boolean) => shown.filter((r) => keep(r.at)).map((r) => r.id);
      const second = shown[1].at;
      const third = shown[2].at;
      const cases: [string, number[]][] = [
        [`filter[createdAt]=${third}`, where((at) => at === third)],
        [`filter[createdAt][eq]=${third}`, where((at) => at === third)],
        [`filter[createdAt][ne]=${third}`, where((at) => at !== third)],
        [`filter[createdAt][gt]=${third}`, where((at) => at > third)],
        [`filter[createdAt][gte]=${third}`, where((at) => at >= third)],
        [`filter[createdAt][lt]=${third}`, where((at) => at < third)],
        [`filter[createdAt][lte]=${third}`, where((at) => at <= third)],
        [`filter[createdAt][in]=${second},${third}`, where((at) => at === second || at === third)],
        [`filter[createdAt][nin]=${second},${third}`, where((at) => at !== second && at !== third)],
        [`filter[createdAt][between]=${second},${third}`, where((at) => at >= second && at <= third)],
      ];
      for (const [query, expected] of cases) {
        expect({ query, ids: await catalog(`${query}&sort=id`) }).toEqual({ query, ids: expected });
      }
      expect(where((at) => at === third)).toContain(p3);
      expect(where((at) => at >= second && at <= third)).toEqual(expect.arrayContaining([p2, p3]));
    });

    it('filters through a to-one relation path (category.slug, category.name)', async () => {
      expect(await idsOf('/api/products?filter[category.slug]=books&sort=id')).toEqual([p1, p2, p5]);
      expect(await idsOf('/api/products?filter[category.slug][in]=games,nope&sort=id')).toEqual([p3, p4]);
      expect(await idsOf('/api/products?filter[category.name][icontains]=cat%20GAMES&sort=id')).toEqual([
        p3,
        p4,
      ]);
    });

    it('filters through a to-many relation path (tags.name) without duplicating rows', async () => {
      expect(await catalog('filter[tags.name]=eco&sort=id')).toEqual([p2, p3, p5]);
      const body = await list(
        `/api/products?filter[categoryId][in]=${books.id},${games.id}&filter[tags.name][in]=gift,eco,sale&sort=id`,
      );
      // p2 has two of the tags and p5 three: still one row each, and the total agrees.
      expect(body.data.map((p) => p.id)).toEqual([p1, p2, p3, p5]);
      expect(body.meta.total).toBe(4);
    });

    it('searches the declared search fields with q (name, sku, description; case-insensitive)', async () => {
      expect(await catalog('q=BOOK&sort=id')).toEqual([p1, p2, p5]);
      expect(await catalog('q=paperback')).toEqual([p1]);
      expect(await catalog('q=cg-3')).toEqual([p3]);
      expect(await catalog('q=50%25')).toEqual([p3]); // % is a literal character, not a wildcard
      expect(await catalog('q=nothing-like-this')).toEqual([]);
    });

    it('combines filters, relation paths, search and sort (all must hold)', async () => {
      const body = await list(
        '/api/products?filter[category.slug]=books&filter[price][gte]=10&filter[tags.name]=gift&q=book&sort=-price',
      );
      expect(body.data.map((p) => p.id)).toEqual([p5, p2]);
      expect(body.meta.total).toBe(2);
      expect(await catalog('filter[price][gte]=10&filter[price][lt]=50&filter[status]=active')).toEqual([p2]);
    });
  });

  describe('sort', () => {
    it('sorts ascending, ties broken by id', async () => {
      expect(await catalog('sort=price')).toEqual([p1, p2, p4, p3, p5]);
      expect(await catalog('sort=name')).toEqual([p1, p2, p3, p4, p5]);
    });

    it('sorts descending, ties broken by id in the same direction', async () => {
      expect(await catalog('sort=-price')).toEqual([p5, p3, p4, p2, p1]);
      expect(await catalog('sort=-name')).toEqual([p5, p4, p3, p2, p1]);
    });

    it('sorts an enum by its declared order (draft, active, archived)', async () => {
      expect(await catalog('sort=status')).toEqual([p3, p1, p2, p5, p4]);
    });

    it('sorts by several keys in order', async () => {
      expect(await catalog('sort=-stock,name')).toEqual([p2, p3, p5, p4, p1]);
      expect(await catalog('sort=stock,-price')).toEqual([p1, p4, p5, p3, p2]);
      expect(await catalog('sort=price,-stock')).toEqual([p1, p2, p4, p3, p5]);
    });

    it('defaults to -createdAt (newest first)', async () => {
      expect(await catalog('')).toEqual([p5, p4, p3, p2, p1]);
      expect(await catalog('sort=')).toEqual([p5, p4, p3, p2, p1]);
    });
  });

  describe('page/limit pagination', () => {
    let paging: CategoryBody;
    let rows: number[];
    const base = () => `/api/products?filter[categoryId]=${paging.id}&sort=name`;

    beforeAll(async () => {
      paging = await category('paging');
      rows = [];
      for (const name of ['Page A', 'Page B', 'Page C', 'Page D', 'Page E', 'Page F', 'Page G']) {
        rows.push((await product({ name, categoryId: paging.id })).id);
      }
    });

    it('returns the first page with meta and links', async () => {
      const body = await list(`${base()}&limit=3`);
      expect(body.data.map((p) => p.id)).toEqual(rows.slice(0, 3));
      expect(body.meta).toEqual({
        page: 1,
        limit: 3,
        total: 7,
        pageCount: 3,
        nextCursor: expect.any(String),
      });
      expect(body.links.prev).toBeNull();
      expect(paramsOf(body.links.self)).toEqual({
        'filter[categoryId]': String(paging.id),
        sort: 'name',
        limit: '3',
      });
      expect(body.links.self.startsWith('/api/products?')).toBe(true);
      expect(paramsOf(body.links.next!)).toEqual({
        'filter[categoryId]': String(paging.id),
        sort: 'name',
        limit: '3',
        page: '2',
      });
    });

    it('follows links.next and links.prev to the neighbouring pages', async () => {
      const first = await list(`${base()}&limit=3`);
      const second = await list(first.links.next!);
      expect(second.data.map((p) => p.id)).toEqual(rows.slice(3, 6));
      expect(second.meta).toMatchObject({ page: 2, limit: 3, total: 7, pageCount: 3 });
      const last = await list(second.links.next!);
      expect(last.data.map((p) => p.id)).toEqual(rows.slice(6));
      expect(last.meta).toEqual({ page: 3, limit: 3, total: 7, pageCount: 3, nextCursor: null });
      expect(last.links.next).toBeNull();
      expect(paramsOf(last.links.prev!)).toMatchObject({ page: '2', limit: '3' });
      expect((await list(last.links.prev!)).data.map((p) => p.id)).toEqual(rows.slice(3, 6));
    });

    it('serves a later page with fields, include and a nextCursor exactly as the same rows of page 1', async () => {
      // Descending, so the rows' physical order (A…G) is not the answer's.
      const byName = `/api/products?filter[categoryId]=${paging.id}&sort=-name`;
      const query = `${byName}&include=category&fields=id,name,tagIds`;
      const all = await list(`${query}&limit=7`);
      expect(all.data.map((p) => p.id)).toEqual([...rows].reverse());
      const third = await list(`${query}&limit=2&page=3`);
      expect(third.data).toEqual(all.data.slice(4, 6));
      expect(third.data[0]).toEqual({
        id: rows[2],
        name: 'Page C',
        tagIds: [],
        category: expect.objectContaining({ id: paging.id }),
      });
      const after = await list(`${byName}&limit=3&after=${third.meta.nextCursor}`);
      expect(after.data.map((p) => p.id)).toEqual([rows[0]]);
    });

    it("continues a page's meta.nextCursor with after", async () => {
      const first = await list(`${base()}&limit=3`);
      const next = await list(`${base()}&limit=3&after=${first.meta.nextCursor}`);
      expect(next.data.map((p) => p.id)).toEqual(rows.slice(3, 6));
    });

    it('answers a page past the end with no rows and the true total', async () => {
      const body = await list(`${base()}&limit=3&page=4`);
      expect(body.data).toEqual([]);
      expect(body.meta).toEqual({ page: 4, limit: 3, total: 7, pageCount: 3, nextCursor: null });
      expect(body.links.next).toBeNull();
    });

    it('defaults to limit 20', async () => {
      const body = await list(base());
      expect(body.meta).toEqual({ page: 1, limit: 20, total: 7, pageCount: 1, nextCursor: null });
      expect(body.data.map((p) => p.id)).toEqual(rows);
    });

    it('clamps limit to 100 and reports the effective limit', async () => {
      const body = await list(`${base()}&limit=500`);
      expect(body.meta.limit).toBe(100);
      expect(body.meta.pageCount).toBe(1);
      expect(body.data).toHaveLength(7);
      expect((await list(`${base()}&limit=99999999999999999999`)).meta.limit).toBe(100);
    });

    it('counts zero rows as zero pages', async () => {
      const body = await list(`${base()}&filter[name]=Nobody`);
      expect(body.meta).toEqual({ page: 1, limit: 20, total: 0, pageCount: 0, nextCursor: null });
      expect(body.links).toMatchObject({ next: null, prev: null });
    });

    it.each(['limit=0', 'limit=abc', 'page=0', 'page=-1', 'page=1.5'])(
      'refuses %s with 400',
      async (query) => {
        const body = problem(await t.inject(`${base()}&${query}`), 400);
        expect(body.errors).toContainEqual(expect.objectContaining({ parameter: query.split('=')[0] }));
      },
    );
  });

  describe('keyset pagination (after)', () => {
    let keyset: CategoryBody;
    let all: number[];

    beforeAll(async () => {
      keyset = await category('keyset');
      // Many ties on both price and name, so the id tie-breaker is exercised across page boundaries.
      const prices = ['10', '10', '10', '5', '5', '20', '20', '20', '1', '10', '5'];
      const names = [
        'Kilo',
        'Kilo',
        'Lima',
        'Mike',
        'Mike',
        'Mike',
        'November',
        'Oscar',
        'Kilo',
        'Lima',
        'Papa',
      ];
      all = [];
      for (let i = 0; i < prices.length; i++) {
        const status = (['draft', 'active', 'archived'] as const)[i % 3];
        all.push(
          (await product({ name: names[i], price: prices[i], stock: i % 4, status, categoryId: keyset.id }))
            .id,
        );
      }
    });

    it.each([
      '-price',
      'name',
      'price',
      '-name',
      '-createdAt',
      'createdAt',
      '-updatedAt',
      'stock,-name',
      '-status,price',
      'status,-stock,name',
      '-price&fields=name&include=category,tags',
    ])('walking sort=%s with after=meta.nextCursor yields every row exactly once, in order', async (sort) => {
      const url = `/api/products?filter[categoryId]=${keyset.id}&sort=${sort}`;
      const expected = await idsOf(`${url}&limit=100`);
      expect([...expected].sort((a, b) => a - b)).toEqual(all);
      for (const limit of [1, 2, 3]) {
        expect(await walk(`${url}&limit=${limit}`)).toEqual(expected);
      }
    });

    it('reports cursor meta and links (page null, total of the whole filter)', async () => {
      const url = `/api/products?filter[categoryId]=${keyset.id}&sort=-price&limit=4`;
      const first = await list(url);
      const second = await list(`${url}&after=${first.meta.nextCursor}`);
      expect(second.meta).toEqual({
        page: null,
        limit: 4,
        total: all.length,
        pageCount: 3,
        nextCursor: expect.any(String),
      });
      expect(second.links.prev).toBeNull();
      expect(paramsOf(second.links.next!)).toEqual({
        'filter[categoryId]': String(keyset.id),
        sort: '-price',
        limit: '4',
        after: second.meta.nextCursor,
      });
      const third = await list(second.links.next!);
      expect([...first.data, ...second.data, ...third.data].map((p) => p.id)).toEqual(
        await idsOf(`${url.replace('limit=4', 'limit=100')}`),
      );
      expect(third.meta.nextCursor).toBeNull();
      expect(third.links.next).toBeNull();
    });

    it('neither repeats nor skips rows while rows are inserted between pages (sort=price)', async () => {
      const live = await category('keyset-live');
      const original: number[] = [];
      for (let price = 10; price <= 100; price += 10) {
        original.push((await product({ price: String(price), categoryId: live.id })).id);
      }
      const before: number[] = [];
      const after: number[] = [];
      const seen = await walk(
        `/api/products?filter[categoryId]=${live.id}&sort=price&limit=3`,
        async (page, last) => {
          if (page > 2) {
            return;
          }
          // Relative to the cursor (the page's last row): two rows that sort before it, and two after it
          // (the same price with a larger id, and a slightly higher price).
          const at = Number(last.price);
          const insert = async (price: number) =>
            (await product({ price: price.toFixed(2), categoryId: live.id })).id;
          before.push(await insert(at - 5), await insert(at - 0.01));
          after.push(await insert(at), await insert(at + 0.01));
        },
      );
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining(original));
      expect(seen).toEqual(expect.arrayContaining(after));
      expect(before).toHaveLength(6);
      expect(seen.filter((id) => before.includes(id))).toEqual([]);
      // What was seen is still in price order.
      const prices = await list(`/api/products?filter[categoryId]=${live.id}&limit=100&sort=price`);
      const order = prices.data.map((p) => p.id);
      expect(seen).toEqual(order.filter((id) => seen.includes(id)));
    });

    it('neither repeats nor skips rows while newer rows arrive (default sort -createdAt)', async () => {
      const feed = await category('keyset-feed');
      const original: number[] = [];
      for (let i = 0; i < 6; i++) {
        original.push((await product({ categoryId: feed.id })).id);
      }
      const arrived: number[] = [];
      const seen = await walk(`/api/products?filter[categoryId]=${feed.id}&limit=2`, async () => {
        arrived.push((await product({ categoryId: feed.id })).id);
      });
      expect(seen).toEqual([...original].reverse());
      expect(arrived).toHaveLength(2);
    });

    it('pages through timestamps shared within a millisecond without gaps (sort=createdAt)', async () => {
      const times = await category('keyset-times');
      // One statement: now() is the transaction's start, so all five rows share createdAt exactly.
      const same = (
        await dataSource.query<{ id: number }[]>(
          `INSERT INTO product (name, sku, price, "categoryId", version) VALUES
             ('Same 1', 'TS-1', 1, $1, 1), ('Same 2', 'TS-2', 1, $1, 1), ('Same 3', 'TS-3', 1, $1, 1),
             ('Same 4', 'TS-4', 1, $1, 1), ('Same 5', 'TS-5', 1, $1, 1) RETURNING id`,
          [times.id],
        )
      ).map((r) => r.id);
      // Five rows one microsecond apart (all within one millisecond), inserted newest first so that id
      // order is the opposite of time order, and two rows sharing the last microsecond.
      const micro = (
        await dataSource.query<{ id: number }[]>(
          `INSERT INTO product (name, sku, price, "categoryId", version, "createdAt") VALUES
             ('Micro 5', 'TM-5', 1, $1, 1, '2035-01-01T00:00:00.000005Z'),
             ('Micro 4', 'TM-4', 1, $1, 1, '2035-01-01T00:00:00.000004Z'),
             ('Micro 3', 'TM-3', 1, $1, 1, '2035-01-01T00:00:00.000003Z'),
             ('Micro 2', 'TM-2', 1, $1, 1, '2035-01-01T00:00:00.000002Z'),
             ('Micro 1', 'TM-1', 1, $1, 1, '2035-01-01T00:00:00.000001Z'),
             ('Micro 1b', 'TM-1B', 1, $1, 1, '2035-01-01T00:00:00.000001Z') RETURNING id`,
          [times.id],
        )
      ).map((r) => r.id);
      const [m5, m4, m3, m2, m1, m1b] = micro;
      const url = `/api/products?filter[categoryId]=${times.id}`;

      const full = await list(`${url}&limit=100`);
      // The API renders milliseconds: the microsecond rows all look alike, and so do the same-statement rows.
      const rendered = new Map(full.data.map((p) => [p.id, p.createdAt]));
      expect(new Set(micro.map((id) => rendered.get(id)))).toEqual(new Set(['2035-01-01T00:00:00.000Z']));
      expect(new Set(same.map((id) => rendered.get(id))).size).toBe(1);

      const descending = [m5, m4, m3, m2, m1b, m1, ...[...same].reverse()];
      const ascending = [...same, m1, m1b, m2, m3, m4, m5];
      expect(full.data.map((p) => p.id)).toEqual(descending);
      for (const limit of [1, 2, 3, 4]) {
        expect(await walk(`${url}&limit=${limit}`)).toEqual(descending);
        expect(await walk(`${url}&sort=-createdAt&limit=${limit}`)).toEqual(descending);
        expect(await walk(`${url}&sort=createdAt&limit=${limit}`)).toEqual(ascending);
      }
      // Filters compare at the precision shown: the rendered millisecond finds all six microsecond rows.
      expect(await idsOf(`${url}&filter[createdAt]=2035-01-01T00:00:00.000Z&sort=createdAt`)).toEqual(
        ascending.slice(same.length),
      );
      expect(await idsOf(`${url}&filter[createdAt][lt]=2035-01-01T00:00:00.000Z&sort=createdAt`)).toEqual(
        same,
      );
    });
  });

  describe('sparse fieldsets and includes', () => {
    it('returns only the requested fields, always with the id', async () => {
      const body = await list(`/api/products?filter[categoryId]=${books.id}&fields=name,price&sort=id`);
      expect(body.data).toEqual([
        { id: p1, name: 'Alpha Book', price: '5.00' },
        { id: p2, name: 'Bravo Book', price: '12.50' },
        { id: p5, name: 'Echo Book', price: '99.99' },
      ]);
    });

    it('selects the to-many ids with fields=tagIds', async () => {
      const body = await list(`/api/products?filter[categoryId]=${books.id}&fields=tagIds&sort=id`);
      expect(body.data).toEqual([
        { id: p1, tagIds: [gift.id] },
        { id: p2, tagIds: [gift.id, eco.id] },
        { id: p5, tagIds: [gift.id, eco.id, sale.id] },
      ]);
    });

    it('applies fields= on GET /:id', async () => {
      expect(await getJson(`/api/products/${p3}?fields=sku,stock`)).toEqual({
        id: p3,
        sku: 'CG-3',
        stock: 10,
      });
    });

    it('includes category and tags as nested objects under the relation names', async () => {
      const body = await list(
        `/api/products?filter[categoryId][in]=${books.id},${games.id}&include=category,tags&sort=id`,
      );
      const byId = new Map(body.data.map((p) => [p.id, p]));
      expect(byId.get(p2)).toMatchObject({
        id: p2,
        categoryId: books.id,
        category: { id: books.id, slug: 'books', name: 'Cat books', parentId: root.id },
        tags: [
          { id: gift.id, name: 'gift' },
          { id: eco.id, name: 'eco' },
        ],
      });
      expect(byId.get(p5)!.tags).toEqual([gift, eco, sale]);
      expect(byId.get(p4)).toMatchObject({ category: { id: games.id, slug: 'games' }, tags: [] });
      expect(body.data.every((p) => p.category?.id === p.categoryId)).toBe(true);
    });

    it('includes a nested relation (category.parent)', async () => {
      const body = await list(`/api/products?filter[categoryId]=${games.id}&include=category.parent&sort=id`);
      expect(body.data).toHaveLength(2);
      for (const row of body.data) {
        expect(row.category).toMatchObject({
          id: games.id,
          parent: { id: root.id, slug: 'root', parentId: null },
        });
        expect(row).not.toHaveProperty('tags');
      }
      const topLevel = await category('top-level');
      const orphan = await product({ categoryId: topLevel.id });
      expect(
        (await getJson<ProductBody>(`/api/products/${orphan.id}?include=category.parent`)).category,
      ).toMatchObject({ id: topLevel.id, parentId: null, parent: null });
      const rootOnly = await getJson<ListBody<CategoryBody>>(
        '/api/categories?filter[slug]=books&include=parent',
      );
      expect(rootOnly.data[0].parent).toMatchObject({ id: root.id, slug: 'root' });
    });

    it('combines fields= and include=', async () => {
      const body = await list(
        `/api/products?filter[categoryId]=${games.id}&fields=name&include=category&sort=id`,
      );
      expect(body.data.map((p) => Object.keys(p).sort())).toEqual([
        ['category', 'id', 'name'],
        ['category', 'id', 'name'],
      ]);
      expect(body.data[0].category).toMatchObject({ id: games.id });
    });

    it("answers a to-one include with the target's own representation, in include='s order, null when unset", async () => {
      const own = new Map<number, string>();
      const ownJson = async (id: number) => {
        if (!own.has(id)) {
          own.set(id, (await t.inject(`/api/categories/${id}`)).body);
        }
        return own.get(id);
      };
      const catalog = `filter[categoryId][in]=${books.id},${games.id}&sort=id`;
      // Unfiltered pages are prepared and join the category; filtered ones and numbered pages past the
      // first (a deep OFFSET) read it with a statement of its own. Both answer the same.
      for (const [query, last] of [
        ['include=category,tags&sort=id', ['category', 'tags']],
        ['include=tags,category&sort=id', ['tags', 'category']],
        [`include=category,tags&${catalog}`, ['category', 'tags']],
        [`include=tags,category&${catalog}`, ['tags', 'category']],
        [`include=category&fields=name&${catalog}&limit=2&page=2`, ['category']],
      ] as const) {
        const body = await list(`/api/products?${query}`);
        expect(body.data.length).toBeGreaterThan(0);
        for (const row of body.data) {
          expect(Object.keys(row).slice(-last.length)).toEqual(last);
          // Byte for byte the category's own GET: the same fields in the same order.
          expect(JSON.stringify(row.category)).toBe(await ownJson(row.category!.id));
        }
      }
      for (const query of ['include=parent&sort=id', 'include=parent&filter[slug]=root']) {
        const categories = await getJson<ListBody<CategoryBody>>(`/api/categories?${query}`);
        expect(categories.data.find((c) => c.id === root.id)).toMatchObject({ parentId: null, parent: null });
        for (const c of categories.data) {
          expect(c.parent?.id ?? null).toBe(c.parentId);
        }
      }
      // GET /:id joins them too, with the same answer and the ETag of the row alone.
      const alone = await t.inject(`/api/products/${p2}`);
      for (const [query, last] of [
        ['include=category,tags', ['category', 'tags']],
        ['include=tags,category', ['tags', 'category']],
        ['include=category&fields=name', ['category']],
      ] as const) {
        const res = await t.inject(`/api/products/${p2}?${query}`);
        expect(res.headers.etag).toBe(alone.headers.etag);
        const row = res.json<ProductBody>();
        expect(Object.keys(row).slice(-last.length)).toEqual(last);
        expect(JSON.stringify(row.category)).toBe(await ownJson(books.id));
      }
      expect(await getJson(`/api/categories/${root.id}?include=parent`)).toMatchObject({
        id: root.id,
        parentId: null,
        parent: null,
      });
    });

    it('includes on GET /:id', async () => {
      const row = await getJson<ProductBody>(`/api/products/${p5}?include=category.parent,tags`);
      expect(row).toMatchObject({
        id: p5,
        name: 'Echo Book',
        category: { id: books.id, parent: { id: root.id } },
        tags: [gift, eco, sale],
      });
      expect(await getJson(`/api/products/${p4}?fields=name&include=tags`)).toEqual({
        id: p4,
        name: 'Delta Game',
        tags: [],
      });
    });
  });

  describe('bad list queries → 400 problem+json naming the parameter', () => {
    it.each([
      ['unknown parameter', 'foo=1', 'foo', 'unknown'],
      ['unknown filter field', 'filter[prise]=1', 'filter[prise]', 'unknown'],
      ['unknown filter field with an operator', 'filter[prise][gte]=1', 'filter[prise]', 'unknown'],
      ['unknown operator', 'filter[price][approx]=1', 'filter[price][approx]', 'operator'],
      [
        'operator the field does not take',
        'filter[price][contains]=1',
        'filter[price][contains]',
        'operator',
      ],
      ['isnull on a non-nullable field', 'filter[stock][isnull]=true', 'filter[stock][isnull]', 'operator'],
      [
        'operator not declared on a relation path',
        'filter[category.slug][ne]=x',
        'filter[category.slug][ne]',
        'operator',
      ],
      ['uncoercible decimal', 'filter[price][gte]=abc', 'filter[price][gte]', 'type'],
      ['uncoercible integer', 'filter[stock]=1.5', 'filter[stock]', 'type'],
      ['uncoercible enum', 'filter[status]=sold', 'filter[status]', 'type'],
      ['uncoercible datetime', 'filter[createdAt][gt]=yesterday', 'filter[createdAt][gt]', 'type'],
      ['between with one value', 'filter[price][between]=5', 'filter[price][between]', 'invalid'],
      ['between upside down', 'filter[price][between]=9,5', 'filter[price][between]', 'range'],
      ['bad sort field', 'sort=prise', 'sort', 'unknown'],
      ['sort naming a field twice', 'sort=name,-name', 'sort', 'invalid'],
      ['repeated parameter', 'limit=1&limit=2', 'limit', 'invalid'],
      ['empty in list', 'filter[price][in]=', 'filter[price][in]', 'range'],
      ['sort on a field that is not sortable', 'sort=description', 'sort', 'unknown'],
      ['bad fields', 'fields=name,secret', 'fields', 'unknown'],
      ['include not allowed', 'include=supplier', 'include', 'unknown'],
      ['include depth 3', 'include=category.parent.parent', 'include', 'range'],
      ['bad cursor', 'after=not-a-cursor!', 'after', 'invalid'],
      [
        'page and after together',
        `page=2&after=${Buffer.from('[1]').toString('base64url')}`,
        'page',
        'invalid',
      ],
      ['empty search', 'q=', 'q', 'range'],
    ])('%s (%s)', async (_name, query, parameter, code) => {
      const body = problem(await t.inject(`/api/products?${query}`), 400);
      expect(body.type).toBe('urn:nestor:problem:bad-query');
      expect(body.errors).toContainEqual(expect.objectContaining({ parameter, code }));
      expect(body.detail).toContain(parameter);
    });

    it('refuses a cursor made for another sort', async () => {
      const byName = await list(`/api/products?filter[categoryId]=${books.id}&sort=name&limit=1`);
      const cursor = byName.meta.nextCursor!;
      // Same number of keys, but "Alpha Book" is no price.
      const wrongType = problem(await t.inject(`/api/products?sort=-price&after=${cursor}`), 400);
      expect(wrongType.errors).toEqual([expect.objectContaining({ parameter: 'after', code: 'invalid' })]);
      // Different number of keys.
      const wrongLength = problem(await t.inject(`/api/products?sort=-stock,name&after=${cursor}`), 400);
      expect(wrongLength.errors).toEqual([expect.objectContaining({ parameter: 'after', code: 'invalid' })]);
    });

    it('lists every problem of a request at once', async () => {
      const body = problem(
        await t.inject('/api/products?filter[prise]=1&sort=nope&fields=secret&bogus=1'),
        400,
      );
      expect(body.errors!.map((e) => e.parameter).sort()).toEqual([
        'bogus',
        'fields',
        'filter[prise]',
        'sort',
      ]);
    });

    it('accepts only fields and include on GET /:id', async () => {
      const body = problem(await t.inject(`/api/products/${p1}?sort=name&filter[price]=1`), 400);
      expect(body.errors!.map((e) => e.parameter).sort()).toEqual(['filter', 'sort']);
      expect(problem(await t.inject(`/api/products/${p1}?include=supplier`), 400).errors).toContainEqual(
        expect.objectContaining({ parameter: 'include' }),
      );
    });
  });

  describe('create and update', () => {
    let writes: CategoryBody;
    beforeAll(async () => {
      writes = await category('writes');
    });

    it('creates with 201, a Location to the new row, and its ETag', async () => {
      const res = await send('POST', '/api/products', {
        name: 'Fresh',
        sku: 'NEW-1',
        price: 7,
        categoryId: writes.id,
        description: 'Brand new',
      });
      expect(res.statusCode).toBe(201);
      const body = res.json<ProductBody>();
      expect(body).toEqual({
        id: expect.any(Number),
        name: 'Fresh',
        sku: 'NEW-1',
        description: 'Brand new',
        price: '7.00',
        stock: 0,
        status: 'draft',
        categoryId: writes.id,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        version: 1,
        deletedAt: null,
        tagIds: [],
      });
      expect(res.headers.location).toBe(`/api/products/${body.id}`);
      expect(res.headers.etag).toMatch(/^"[\w-]+"$/);
      const fetched = await t.inject(res.headers.location!);
      expect(fetched.statusCode).toBe(200);
      expect(fetched.json()).toEqual(body);
      expect(fetched.headers.etag).toBe(res.headers.etag);
    });

    it('writes tagIds and reads them back; PATCH replaces and clears them', async () => {
      const made = await product({ categoryId: writes.id, tagIds: [sale.id, gift.id, sale.id] });
      expect(made.tagIds).toEqual([gift.id, sale.id]);
      expect((await getJson<ProductBody>(`/api/products/${made.id}`)).tagIds).toEqual([gift.id, sale.id]);
      const replaced = await send('PATCH', `/api/products/${made.id}`, { tagIds: [eco.id, sale.id] });
      expect(replaced.statusCode).toBe(200);
      expect(replaced.json<ProductBody>().tagIds).toEqual([eco.id, sale.id]);
      expect(await idsOf(`/api/products?filter[tags.name]=eco&filter[categoryId]=${writes.id}`)).toEqual([
        made.id,
      ]);
      const cleared = await send('PATCH', `/api/products/${made.id}`, { tagIds: [] });
      expect(cleared.json<ProductBody>().tagIds).toEqual([]);
      expect((await getJson<ProductBody>(`/api/products/${made.id}?include=tags`)).tags).toEqual([]);
    });

    it('refuses {"price": -1, "id": 9} with 422 pointing at /price and /id, writing nothing', async () => {
      const before = await productCount();
      const body = problem(await send('POST', '/api/products', { price: -1, id: 9 }), 422);
      expect(body.type).toBe('urn:nestor:problem:validation-failed');
      const pointers = body.errors!.map((e) => e.pointer);
      expect(pointers).toEqual(expect.arrayContaining(['/price', '/id']));
      expect(body.errors).toContainEqual(expect.objectContaining({ pointer: '/id', code: 'readOnly' }));
      expect(await productCount()).toBe(before);
    });

    it('refuses a negative price even when everything else is valid', async () => {
      const before = await productCount();
      const body = problem(
        await send('POST', '/api/products', {
          name: 'Neg',
          sku: 'NEG-1',
          price: '-1.00',
          categoryId: writes.id,
        }),
        422,
      );
      expect(body.errors!.map((e) => e.pointer)).toEqual(['/price']);
      expect(await productCount()).toBe(before);
    });

    it('refuses an unknown property with 422 code unknown', async () => {
      const before = await productCount();
      const body = problem(
        await send('POST', '/api/products', {
          name: 'X',
          sku: 'UNK-1',
          price: '1',
          categoryId: writes.id,
          colour: 'red',
        }),
        422,
      );
      expect(body.errors).toEqual([expect.objectContaining({ pointer: '/colour', code: 'unknown' })]);
      expect(await productCount()).toBe(before);
    });

    it('refuses read-only fields (createdAt, version, updatedAt, deletedAt) with 422', async () => {
      const before = await productCount();
      const body = problem(
        await send('POST', '/api/products', {
          name: 'X',
          sku: 'RO-1',
          price: '1',
          categoryId: writes.id,
          createdAt: '2020-01-01T00:00:00Z',
          version: 5,
          updatedAt: '2020-01-01T00:00:00Z',
          deletedAt: null,
        }),
        422,
      );
      expect(body.errors!.map((e) => [e.pointer, e.code]).sort()).toEqual([
        ['/createdAt', 'readOnly'],
        ['/deletedAt', 'readOnly'],
        ['/updatedAt', 'readOnly'],
        ['/version', 'readOnly'],
      ]);
      expect(await productCount()).toBe(before);
    });

    it('refuses missing required fields with 422', async () => {
      const before = await productCount();
      const body = problem(await send('POST', '/api/products', { description: 'only this' }), 422);
      expect(body.errors!.map((e) => [e.pointer, e.code]).sort()).toEqual([
        ['/categoryId', 'required'],
        ['/name', 'required'],
        ['/price', 'required'],
        ['/sku', 'required'],
      ]);
      expect(await productCount()).toBe(before);
    });

    it('refuses wrong types and entity rules with 422', async () => {
      const body = problem(
        await send('POST', '/api/products', {
          name: 42,
          sku: 'lower case',
          price: '1.234',
          stock: 1.5,
          status: 'sold',
          categoryId: 'one',
        }),
        422,
      );
      expect(Object.fromEntries(body.errors!.map((e) => [e.pointer, e.code]))).toMatchObject({
        '/name': 'type',
        '/sku': expect.any(String),
        '/price': 'maxDigits',
        '/stock': 'type',
        '/status': 'enum',
        '/categoryId': 'type',
      });
    });

    it('refuses a reference to a missing category or tag with 422, writing nothing', async () => {
      const before = await productCount();
      const body = problem(
        await send('POST', '/api/products', {
          name: 'Ref',
          sku: 'REF-1',
          price: '1',
          categoryId: 999999,
          tagIds: [gift.id, 999999, eco.id, 888888],
        }),
        422,
      );
      expect(body.errors).toEqual([
        expect.objectContaining({ pointer: '/categoryId', code: 'exists' }),
        expect.objectContaining({ pointer: '/tagIds/1', code: 'exists' }),
        expect.objectContaining({ pointer: '/tagIds/3', code: 'exists' }),
      ]);
      expect(await productCount()).toBe(before);
      expect(await idsOf('/api/products?filter[sku]=REF-1')).toEqual([]);
    });

    it('refuses a missing category alone the same way (the foreign key catches it), writing nothing', async () => {
      const before = await productCount();
      const body = problem(
        await send('POST', '/api/products', { name: 'Ref', sku: 'REF-2', price: '1', categoryId: 999999 }),
        422,
      );
      expect(body.errors).toEqual([
        { pointer: '/categoryId', code: 'exists', message: 'categoryId: no Category with id 999999' },
      ]);
      expect(await productCount()).toBe(before);
      expect(await idsOf('/api/products?filter[sku]=REF-2')).toEqual([]);
    });

    it('refuses a duplicate sku with 409 pointing at /sku', async () => {
      const before = await productCount();
      const body = problem(
        await send('POST', '/api/products', { name: 'Dup', sku: 'AB-1', price: '1', categoryId: writes.id }),
        409,
      );
      expect(body.errors).toEqual([expect.objectContaining({ pointer: '/sku', code: 'unique' })]);
      expect(await productCount()).toBe(before);
    });

    it('PATCH with an empty body changes nothing', async () => {
      const made = await product({ categoryId: writes.id });
      const before = await t.inject(`/api/products/${made.id}`);
      const res = await send('PATCH', `/api/products/${made.id}`, {});
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(before.json());
      expect(res.headers.etag).toBe(before.headers.etag);
    });

    it('PATCH updates only the given fields', async () => {
      const made = await product({
        categoryId: writes.id,
        stock: 3,
        description: 'keep me',
        tagIds: [gift.id],
      });
      const res = await send('PATCH', `/api/products/${made.id}`, { stock: 42, price: '3.5' });
      expect(res.statusCode).toBe(200);
      const body = res.json<ProductBody>();
      expect(body).toEqual({
        ...made,
        stock: 42,
        price: '3.50',
        version: made.version + 1,
        updatedAt: expect.any(String),
      });
      expect(Date.parse(body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(made.updatedAt));
      expect(await getJson(`/api/products/${made.id}`)).toEqual(body);
    });

    it('PATCH can move a product to another category and set a nullable field to null', async () => {
      const made = await product({ categoryId: writes.id, description: 'gone soon' });
      const res = await send('PATCH', `/api/products/${made.id}`, {
        categoryId: books.id,
        description: null,
      });
      expect(res.json<ProductBody>()).toMatchObject({ categoryId: books.id, description: null });
      const missing = problem(await send('PATCH', `/api/products/${made.id}`, { categoryId: 999999 }), 422);
      expect(missing.errors).toEqual([expect.objectContaining({ pointer: '/categoryId', code: 'exists' })]);
      const notNull = problem(await send('PATCH', `/api/products/${made.id}`, { name: null }), 422);
      expect(notNull.errors).toEqual([expect.objectContaining({ pointer: '/name', code: 'required' })]);
      expect((await getJson<ProductBody>(`/api/products/${made.id}`)).categoryId).toBe(books.id);
      await send('DELETE', `/api/products/${made.id}`);
    });

    it('PATCH with a wrong type → 422 and the row unchanged', async () => {
      const made = await product({ categoryId: writes.id, stock: 5 });
      const before = await t.inject(`/api/products/${made.id}`);
      const body = problem(
        await send('PATCH', `/api/products/${made.id}`, { stock: 'many', name: 'Renamed' }),
        422,
      );
      expect(body.errors).toEqual([expect.objectContaining({ pointer: '/stock', code: 'type' })]);
      const after = await t.inject(`/api/products/${made.id}`);
      expect(after.json()).toEqual(before.json());
      expect(after.headers.etag).toBe(before.headers.etag);
    });

    it('PATCH of read-only or unknown fields → 422', async () => {
      const body = problem(
        await send('PATCH', `/api/products/${p1}`, { version: 9, id: 3, colour: 'x' }),
        422,
      );
      expect(body.errors!.map((e) => [e.pointer, e.code]).sort()).toEqual([
        ['/colour', 'unknown'],
        ['/id', 'readOnly'],
        ['/version', 'readOnly'],
      ]);
    });

    it('PUT is not generated: 405 naming the methods the path takes', async () => {
      const res = await send('PUT', `/api/products/${p1}`, { name: 'x' });
      problem(res, 405);
      expect(res.headers.allow).toBe('GET, HEAD, PATCH, DELETE');
      expect((await getJson<ProductBody>(`/api/products/${p1}`)).name).toBe('Alpha Book');
    });
  });

  describe('ETag and conditional requests', () => {
    let etags: CategoryBody;
    beforeAll(async () => {
      etags = await category('etags');
    });

    it('GET /:id returns an ETag; If-None-Match with it → 304', async () => {
      const made = await product({ categoryId: etags.id });
      const res = await t.inject(`/api/products/${made.id}`);
      const etag = res.headers.etag!;
      expect(etag).toMatch(/^"[\w-]+"$/);
      const cached = await t.inject({ url: `/api/products/${made.id}`, headers: { 'if-none-match': etag } });
      expect(cached.statusCode).toBe(304);
      expect(cached.body).toBe('');
      expect(cached.headers.etag).toBe(etag);
      const weak = await t.inject({
        url: `/api/products/${made.id}`,
        headers: { 'if-none-match': `W/${etag}` },
      });
      expect(weak.statusCode).toBe(304);
      const other = await t.inject({
        url: `/api/products/${made.id}`,
        headers: { 'if-none-match': '"other"' },
      });
      expect(other.statusCode).toBe(200);
      expect(other.json<ProductBody>().id).toBe(made.id);
    });

    it('the ETag is of the row, whatever fields/include ask for', async () => {
      const full = await t.inject(`/api/products/${p2}`);
      const partial = await t.inject(`/api/products/${p2}?fields=name&include=tags`);
      expect(partial.headers.etag).toBe(full.headers.etag);
    });

    it('PATCH with the current ETag → 200 and a new ETag', async () => {
      const made = await product({ categoryId: etags.id });
      const etag = (await t.inject(`/api/products/${made.id}`)).headers.etag!;
      const res = await send('PATCH', `/api/products/${made.id}`, { stock: 9 }, { 'if-match': etag });
      expect(res.statusCode).toBe(200);
      expect(res.json<ProductBody>().stock).toBe(9);
      expect(res.headers.etag).toMatch(/^"[\w-]+"$/);
      expect(res.headers.etag).not.toBe(etag);
      expect((await t.inject(`/api/products/${made.id}`)).headers.etag).toBe(res.headers.etag);
      // The old ETag no longer matches for caching either.
      const stale = await t.inject({ url: `/api/products/${made.id}`, headers: { 'if-none-match': etag } });
      expect(stale.statusCode).toBe(200);
    });

    it('PATCH with a stale If-Match → 412 problem+json and the row unchanged', async () => {
      const made = await product({ categoryId: etags.id, stock: 1 });
      const stale = (await t.inject(`/api/products/${made.id}`)).headers.etag!;
      await send('PATCH', `/api/products/${made.id}`, { stock: 2 });
      const current = await t.inject(`/api/products/${made.id}`);
      const body = problem(
        await send('PATCH', `/api/products/${made.id}`, { stock: 3 }, { 'if-match': stale }),
        412,
      );
      expect(body.type).toBe('urn:nestor:problem:precondition-failed');
      const after = await t.inject(`/api/products/${made.id}`);
      expect(after.json<ProductBody>().stock).toBe(2);
      expect(after.headers.etag).toBe(current.headers.etag);
    });

    it('DELETE with a stale If-Match → 412 and the row still there; with the current one → 204', async () => {
      const made = await product({ categoryId: etags.id });
      const stale = (await t.inject(`/api/products/${made.id}`)).headers.etag!;
      await send('PATCH', `/api/products/${made.id}`, { stock: 4 });
      problem(await send('DELETE', `/api/products/${made.id}`, undefined, { 'if-match': stale }), 412);
      const still = await t.inject(`/api/products/${made.id}`);
      expect(still.statusCode).toBe(200);
      const del = await send('DELETE', `/api/products/${made.id}`, undefined, {
        'if-match': still.headers.etag!,
      });
      expect(del.statusCode).toBe(204);
      expect((await t.inject(`/api/products/${made.id}`)).statusCode).toBe(404);
    });

    it('accepts If-Match: * and a list containing the current ETag', async () => {
      const made = await product({ categoryId: etags.id });
      const etag = (await t.inject(`/api/products/${made.id}`)).headers.etag!;
      const listed = await send(
        'PATCH',
        `/api/products/${made.id}`,
        { stock: 1 },
        { 'if-match': `"nope", ${etag}` },
      );
      expect(listed.statusCode).toBe(200);
      const star = await send('PATCH', `/api/products/${made.id}`, { stock: 2 }, { 'if-match': '*' });
      expect(star.statusCode).toBe(200);
    });
  });

  describe('delete, soft delete and restore', () => {
    let trash: CategoryBody;
    beforeAll(async () => {
      trash = await category('trash');
    });

    it('soft-deletes a product (204, then 404 and gone from lists) and restores it', async () => {
      const keep = await product({ categoryId: trash.id, tagIds: [gift.id] });
      const made = await product({ categoryId: trash.id, tagIds: [gift.id] });
      const scope = `/api/products?filter[categoryId]=${trash.id}&sort=id`;
      expect(await idsOf(scope)).toEqual([keep.id, made.id]);

      const del = await send('DELETE', `/api/products/${made.id}`);
      expect(del.statusCode).toBe(204);
      expect(del.body).toBe('');
      expect(problem(await t.inject(`/api/products/${made.id}`), 404).type).toBe(
        'urn:nestor:problem:not-found',
      );
      const listed = await list(scope);
      expect(listed.data.map((p) => p.id)).toEqual([keep.id]);
      expect(listed.meta.total).toBe(1);
      expect(await idsOf(`/api/products?filter[tags.name]=gift&filter[categoryId]=${trash.id}`)).toEqual([
        keep.id,
      ]);
      // Soft-deleted: the row is still in the table.
      const stored = await dataSource.query<{ deletedAt: Date | null }[]>(
        'SELECT "deletedAt" FROM product WHERE id = $1',
        [made.id],
      );
      expect(stored[0].deletedAt).toBeInstanceOf(Date);
      // A deleted row can be neither updated nor deleted again.
      problem(await send('PATCH', `/api/products/${made.id}`, { stock: 1 }), 404);
      problem(await send('DELETE', `/api/products/${made.id}`), 404);

      const restored = await send('POST', `/api/products/${made.id}/restore`);
      expect(restored.statusCode).toBe(200);
      expect(restored.json<ProductBody>()).toMatchObject({ id: made.id, deletedAt: null, tagIds: [gift.id] });
      const again = await t.inject(`/api/products/${made.id}`);
      expect(again.statusCode).toBe(200);
      expect(again.headers.etag).toBe(restored.headers.etag);
      expect(await idsOf(scope)).toEqual([keep.id, made.id]);
    });

    it('restore of an unknown id → 404; of a live row → 200 unchanged', async () => {
      problem(await send('POST', '/api/products/999999/restore'), 404);
      const live = await product({ categoryId: trash.id });
      const before = await t.inject(`/api/products/${live.id}`);
      const res = await send('POST', `/api/products/${live.id}/restore`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(before.json());
      expect(res.headers.etag).toBe(before.headers.etag);
    });

    it('refuses to delete a category still referenced by a product with 409', async () => {
      const used = await category('in-use');
      await product({ categoryId: used.id });
      const body = problem(await send('DELETE', `/api/categories/${used.id}`), 409);
      expect(body.type).toBe('urn:nestor:problem:foreign-key-violation');
      expect((await t.inject(`/api/categories/${used.id}`)).statusCode).toBe(200);
    });

    it('still refuses when the only product referencing the category is soft-deleted', async () => {
      const used = await category('in-use-deleted');
      const made = await product({ categoryId: used.id });
      expect((await send('DELETE', `/api/products/${made.id}`)).statusCode).toBe(204);
      problem(await send('DELETE', `/api/categories/${used.id}`), 409);
      expect((await t.inject(`/api/categories/${used.id}`)).statusCode).toBe(200);
    });

    it('hard-deletes an unused category; its children lose their parent', async () => {
      const parent = await category('old-parent');
      const child = await category('old-child', parent.id);
      expect((await send('DELETE', `/api/categories/${parent.id}`)).statusCode).toBe(204);
      problem(await t.inject(`/api/categories/${parent.id}`), 404);
      expect((await getJson<CategoryBody>(`/api/categories/${child.id}`)).parentId).toBeNull();
    });

    it('deleting a tag removes it from products', async () => {
      const temp = await tag('temporary');
      const made = await product({ categoryId: trash.id, tagIds: [temp.id, gift.id] });
      expect((await send('DELETE', `/api/tags/${temp.id}`)).statusCode).toBe(204);
      problem(await t.inject(`/api/tags/${temp.id}`), 404);
      expect((await getJson<ProductBody>(`/api/products/${made.id}`)).tagIds).toEqual([gift.id]);
    });

    it.each([
      ['GET', '/api/products/999999'],
      ['PATCH', '/api/products/999999'],
      ['DELETE', '/api/products/999999'],
      ['GET', '/api/products/abc'],
      ['GET', '/api/products/1.5'],
      ['GET', '/api/products/-1'],
      ['GET', '/api/products/99999999999'],
      ['DELETE', '/api/products/abc'],
      ['PATCH', '/api/products/abc'],
      ['GET', '/api/categories/abc'],
      ['GET', '/api/tags/999999'],
    ] as const)('%s %s → 404 problem+json', async (method, url) => {
      const res =
        method === 'GET'
          ? await t.inject(url)
          : await send(method, url, method === 'PATCH' ? { stock: 1 } : undefined);
      expect(problem(res, 404).instance).toBe(url);
    });

    it('tags and categories (no soft delete) have no restore route', async () => {
      const someTag = await tag('no-restore');
      const someCategory = await category('no-restore');
      for (const url of [`/api/tags/${someTag.id}/restore`, `/api/categories/${someCategory.id}/restore`]) {
        problem(await send('POST', url), 404);
      }
      expect((await t.inject(`/api/tags/${someTag.id}`)).statusCode).toBe(200);
    });
  });
});
