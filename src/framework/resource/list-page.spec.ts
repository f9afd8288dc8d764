import * as qs from 'qs';
import {
  pageRows,
  ListRequest,
  ListResult,
  PageShape,
  cachedLinkTemplates,
  listResult,
  pageLinks,
} from 'src/framework/resource/list-page';
import { NOTHING_JOINED } from 'src/framework/resource/include-loader';
import type { ListQuery } from 'src/framework/resource/query-types';

/**
 * The oracle: each link as `qs.stringify` writes the whole query with the link's `page` or `after` (qs
 * leaves out parameters whose value is undefined), as the links were written before.
 */
function expectedLinks(
  request: ListRequest,
  page: number | null,
  more: boolean,
  cursor: string | null,
): ListResult['links'] {
  const link = (changes: Record<string, unknown>): string => {
    const search = qs.stringify({ ...request.query, ...changes }, { arrayFormat: 'comma' });
    return search === '' ? request.path : `${request.path}?${search}`;
  };
  let next: string | null = null;
  if (page === null) {
    next = cursor ? link({ after: cursor, page: undefined }) : null;
  } else if (more) {
    next = link({ page: page + 1, after: undefined });
  }
  const prev = page === null || page === 1 ? null : link({ page: page - 1, after: undefined });
  return { self: link({}), next, prev };
}

/** A small seeded generator (mulberry32), so a failing case can be found again. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a', 'Z', '7', ' ', '&', '=', '?', '#', '%', '%25', '+', ',', '[', ']', '/', "'", '(', ')', '*', '!',
  '~', '.', '-', '_', ':', ';', '@', '$', '"', '<', '>', '\\', '^', '`', '{', '|', '}', 'é', 'ü', 'ß',
  '日本', 'Ωμέγα', '😀', '👍🏽', '\u00a0', '\u2028', '\t', '\n', '\uD800',
]; // prettier-ignore
const KEYS = [
  'limit',
  'filter',
  'sort',
  'q',
  'fields',
  'include',
  'trashed',
  'page',
  'after',
  'x y',
  'a[b]',
  '0',
];
const FIELDS = ['price', 'name', 'category.slug', 'créé', 'a b', 'x[y]'];
const OPERATORS = ['eq', 'gte', 'in', 'between', 'isnull', 'contains'];

function generator(seed: number) {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const text = (): string => Array.from({ length: Math.floor(next() * 6) }, () => pick(PIECES)).join('');
  const value = (depth: number): unknown => {
    const roll = next();
    if (roll < 0.45 || depth >= 3) {
      return text();
    }
    if (roll < 0.6) {
      return Array.from({ length: Math.floor(next() * 4) }, () => text());
    }
    if (roll < 0.65) {
      return pick([undefined, null, '', 3, true]);
    }
    const nested: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 3); i >= 0; i--) {
      nested[depth === 0 ? pick(FIELDS) : pick(OPERATORS)] = value(depth + 1);
    }
    return nested;
  };
  const query = (): Record<string, unknown> => {
    const raw: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 7); i > 0; i--) {
      const key = pick(KEYS);
      raw[key] =
        key === 'page' || key === 'limit'
          ? pick([String(1 + Math.floor(next() * 50)), undefined, ''])
          : key === 'after'
            ? pick(['WyI1MDAuMDUiLDU4MTVd', text(), undefined])
            : key === 'filter'
              ? value(0)
              : value(1);
    }
    return raw;
  };
  return { next, pick, text, query };
}

describe('pageLinks', () => {
  it('writes the documented links of a filtered, sorted first page', () => {
    const links = pageLinks(
      { path: '/api/products', query: { limit: '20', filter: { price: { gte: '10' } }, sort: '-price' } },
      1,
      true,
      'WyI1MDAuMDUiLDU4MTVd',
    );
    expect(links).toEqual({
      self: '/api/products?limit=20&filter%5Bprice%5D%5Bgte%5D=10&sort=-price',
      next: '/api/products?limit=20&filter%5Bprice%5D%5Bgte%5D=10&sort=-price&page=2',
      prev: null,
    });
  });

  it('replaces page and after where the query has them, and appends them where it has not', () => {
    const query = { page: '3', sort: ['-price', 'name'], include: 'category' };
    expect(pageLinks({ path: '/p', query }, 3, true, null)).toEqual({
      self: '/p?page=3&sort=-price%2Cname&include=category',
      next: '/p?page=4&sort=-price%2Cname&include=category',
      prev: '/p?page=2&sort=-price%2Cname&include=category',
    });
    expect(pageLinks({ path: '/p', query: { after: 'old', limit: '5' } }, null, true, 'new cursor')).toEqual({
      self: '/p?after=old&limit=5',
      next: '/p?after=new%20cursor&limit=5',
      prev: null,
    });
    expect(pageLinks({ path: '/p', query: {} }, null, true, 'abc')).toEqual({
      self: '/p',
      next: '/p?after=abc',
      prev: null,
    });
  });

  it('writes the same bytes as qs.stringify of the whole query, on 4,000 generated requests', () => {
    const { next, pick, text, query } = generator(23);
    for (let n = 0; n < 4000; n++) {
      const request: ListRequest = {
        path: pick(['/api/products', '/api/v2/order-items', 'graphql:x']),
        query: query(),
      };
      const page = next() < 0.3 ? null : 1 + Math.floor(next() * 5);
      const more = next() < 0.6;
      const cursor = next() < 0.2 ? null : pick(['WyI1MDAuMDUiLDU4MTVd', 'abc-_', text(), '']);
      const expected = expectedLinks(request, page, more, cursor);
      expect({ n, links: pageLinks(request, page, more, cursor) }).toEqual({ n, links: expected });
      // With the URL: encoded once, then served from the cache for the next request of that URL.
      const url = `${request.path}?case=${n}`;
      expect({ n, links: pageLinks({ ...request, url }, page, more, cursor) }).toEqual({
        n,
        links: expected,
      });
      expect({ n, links: pageLinks({ ...request, url }, page, more, cursor) }).toEqual({
        n,
        links: expected,
      });
    }
  });

  it('keeps at most 500 URLs, and never serves one path the links of another', () => {
    for (let n = 0; n < 1234; n++) {
      pageLinks({ path: '/a', query: { n: String(n) }, url: `/a?n=${n}` }, 1, true, null);
      expect(cachedLinkTemplates()).toBeLessThanOrEqual(500);
    }
    const url = '/shared?sort=name';
    expect(pageLinks({ path: '/one', query: { sort: 'name' }, url }, 1, true, null).next).toBe(
      '/one?sort=name&page=2',
    );
    expect(pageLinks({ path: '/two', query: { sort: 'name' }, url }, 1, true, null).next).toBe(
      '/two?sort=name&page=2',
    );
  });
});

describe('listResult: an estimated total, mended by the page', () => {
  const shape: PageShape = {
    columns: '',
    order: '',
    cursorKeys: ['id'],
    idIndex: 0,
    helpers: false,
    counted: false,
    joined: NOTHING_JOINED,
  };
  const request: ListRequest = { path: '/api/things', query: {} };
  /** `meta` of a page of `count` rows (`more`: a next page exists) when the planner estimated `estimate`. */
  const meta = (page: Partial<ListQuery>, count: number, more: boolean, estimate: number) => {
    const query: ListQuery = {
      limit: 20,
      sort: [{ path: 'id', direction: 'asc' }],
      filters: [],
      include: [],
      ...page,
    };
    const rows = Array.from({ length: count }, (_, i) => ({ id: i + 1 }));
    const { total, totalEstimated, pageCount } = listResult(query, request, shape, rows, more, {
      total: estimate,
      estimated: true,
    }).meta;
    return { total, totalEstimated, pageCount };
  };

  it('counts the last page of a numbered list exactly, and the only page of a first one', () => {
    expect(meta({ page: 3 }, 7, false, 10_050)).toEqual({
      total: 47,
      totalEstimated: undefined,
      pageCount: 3,
    });
    expect(meta({}, 7, false, 10_050)).toEqual({ total: 7, totalEstimated: undefined, pageCount: 1 });
  });

  it('never says fewer rows than the page proves exist', () => {
    expect(meta({ page: 600 }, 20, true, 10_050)).toEqual({
      total: 12_001,
      totalEstimated: true,
      pageCount: 601,
    });
    expect(meta({ page: 2 }, 20, true, 10_050)).toEqual({
      total: 10_050,
      totalEstimated: true,
      pageCount: 503,
    });
  });

  it('never says more rows than a page past the end allows', () => {
    expect(meta({ page: 9 }, 0, false, 10_050)).toEqual({ total: 160, totalEstimated: true, pageCount: 8 });
  });

  it('keeps the estimate on a cursor page, whose rows before it are not counted', () => {
    expect(meta({ after: [40] }, 7, false, 10_050)).toEqual({
      total: 10_050,
      totalEstimated: true,
      pageCount: 503,
    });
  });
});

describe('pageRows: the total from the page statement that counted, else from the count', () => {
  const counts = () => {
    const count = jest.fn(() => Promise.resolve({ total: 41, estimated: true }));
    return count;
  };

  it("reads a counted page's total from its first row, without a count statement", async () => {
    const count = counts();
    const rows = [
      { __total: 7, id: 1 },
      { __total: 7, id: 2 },
    ];
    expect(await pageRows(Promise.resolve(rows), count, true, false)).toEqual([
      rows,
      { total: 7, estimated: false },
    ]);
    expect(count).not.toHaveBeenCalled();
  });

  it('knows an empty first page counts zero, and counts after an empty later page', async () => {
    const count = counts();
    expect(await pageRows(Promise.resolve([]), count, true, true)).toEqual([
      [],
      { total: 0, estimated: false },
    ]);
    expect(count).not.toHaveBeenCalled();
    expect(await pageRows(Promise.resolve([]), count, true, false)).toEqual([
      [],
      { total: 41, estimated: true },
    ]);
    expect(count).toHaveBeenCalledTimes(1);
  });

  it('counts beside a page that does not count (a total that may be estimated)', async () => {
    const count = counts();
    const rows = [{ id: 1 }];
    expect(await pageRows(Promise.resolve(rows), count, false, true)).toEqual([
      rows,
      { total: 41, estimated: true },
    ]);
    expect(count).toHaveBeenCalledTimes(1);
  });
});
