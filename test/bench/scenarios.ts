/**
 * The HTTP scenarios of `npm run bench`: what each contender is asked, in its own query syntax, and under which
 * label the report shows it. A scenario a contender does not take part in has no request for it.
 *
 * Adding a scenario: add its name to HTTP_SCENARIOS with a label, and a case to `requestFor` returning a
 * request for each contender that answers it (a GraphQL query is a POST with a fixed `body`:
 * `{ method: 'POST', path: '/graphql', body: JSON.stringify({ query }) }`); `--only`, the warm-up, the
 * alternating runs and the report's table then take it in. GRAPHQL_SCENARIOS pairs each GraphQL scenario
 * with the REST scenario it asks the same data as, for the report's GraphQL section (the harness checks
 * that both answer the same rows).
 */
import type { LoadRequest } from 'test/bench/load';

/** Scenario name → the label of its rows in the report. The order is the order they run and are reported in. */
export const HTTP_SCENARIOS = {
  'get-by-id': 'GET /api/products/:id',
  'get-by-id-304': 'GET /api/products/:id, If-None-Match → 304',
  list: 'list filtered+sorted+counted',
  'list-include': 'list + include=category',
  'graphql-list-include': 'GraphQL list + category',
  create: 'POST /api/products (validated)',
  'admin-schema': 'GET /admin/api/schema',
  'deep-page': 'deep pages (offset vs cursor)',
  'cached-get-by-id': 'cached GET /api/products/:id (100 ids)',
  'cached-list': 'cached list filtered+sorted+counted',
  'limited-get-by-id': 'GET /api/products/:id, request budgets on',
} as const;
export type HttpScenario = keyof typeof HTTP_SCENARIOS;

/** GraphQL scenarios, each shown in the report beside the REST scenario that asks for the same data. */
export const GRAPHQL_SCENARIOS: readonly { graphql: HttpScenario; rest: HttpScenario }[] = [
  { graphql: 'graphql-list-include', rest: 'list-include' },
];

/**
 * Scenarios that turn on one setting the others run without: `raw` and `nestor` against the variant of nestor
 * that has it on, which takes part in nothing else. The resource cache (`nestor` runs with
 * RESOURCE_CACHE=off) and the production request budgets (`nestor` runs with RATE_LIMIT_*=off).
 */
export const VARIANT_SCENARIOS: Readonly<Partial<Record<HttpScenario, Variant>>> = {
  'cached-get-by-id': 'nestor-cached',
  'cached-list': 'nestor-cached',
  'limited-get-by-id': 'nestor-limited',
};
export const VARIANTS = ['nestor-cached', 'nestor-limited'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The variants the scenarios in `wanted` run, in VARIANTS' order. */
export function variantsOf(wanted: Iterable<string>): Variant[] {
  const scenarios = new Set(wanted);
  return VARIANTS.filter((variant) =>
    Object.entries(VARIANT_SCENARIOS).some(([scenario, of]) => of === variant && scenarios.has(scenario)),
  );
}

/** Ids the cached and the conditional get-by-id cycle through: a hot set, as real catalogues have. */
export const HOT_IDS = 100;

export const CONTENDERS = ['raw', 'equivalent-raw', 'nest-handwritten', 'peer', 'nestor'] as const;
/**
 * `nestor-before` is another build of Nestor (`--before DIR`), for before/after numbers in one run; the
 * variants (VARIANT_SCENARIOS) are Nestor with one setting on that `nestor` runs without.
 */
export type ContenderName = (typeof CONTENDERS)[number] | 'nestor-before' | Variant;

/** What the requests depend on, besides the contender. */
export interface ScenarioContext {
  rows: number;
  /** A superuser's access token (Nestor and equivalent-raw check it on writes). */
  token?: string;
  /** The ETag of each hot product (ids 1…HOT_IDS), for the conditional get. */
  etags: ReadonlyMap<number, string>;
}

const LIST_QUERY = 'limit=20&filter[price][gte]=10&sort=-price';

/** REST's `list-include` request, which `GRAPHQL_LIST_INCLUDE` asks for in GraphQL. */
export const REST_LIST_INCLUDE = `/api/products?${LIST_QUERY}&include=category`;

/**
 * `list-include`'s page in GraphQL: the same filter, sort and page size, every field REST answers with in
 * REST's order (so the nodes' JSON can be compared with REST's rows byte for byte), the category, the count
 * and the next cursor (REST's `meta.total` and `meta.nextCursor`).
 */
export const GRAPHQL_LIST_INCLUDE = `{
  products(first: 20, filter: { price: { gte: "10" } }, sort: [price_DESC]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id name sku description price stock status categoryId createdAt updatedAt version deletedAt tagIds
        category { id name slug description parentId createdAt updatedAt }
      }
    }
  }
}`;

/** The request of a scenario for a contender, or undefined when the contender does not take part. */
export function requestFor(
  context: ScenarioContext,
  scenario: HttpScenario,
  contender: ContenderName,
  tag: string,
): LoadRequest | undefined {
  const nestorLike = contender === 'nestor' || contender === 'nestor-before';
  const native =
    contender === 'raw' ||
    contender === 'equivalent-raw' ||
    nestorLike ||
    VARIANT_SCENARIOS[scenario] === contender;
  const base = native ? '/api/products' : '/products';
  const { rows } = context;
  const hot = Math.min(rows, HOT_IDS);
  const variant = VARIANT_SCENARIOS[scenario];
  if (
    variant
      ? contender !== variant && contender !== 'nestor' && contender !== 'raw'
      : (VARIANTS as readonly string[]).includes(contender)
  ) {
    return undefined; // a variant's scenarios compare it with nestor (setting off) and raw, and only them
  }
  switch (scenario) {
    case 'cached-get-by-id': {
      let i = 0;
      const next = () => ({ path: `/api/products/${1 + ((i++ * 7919) % hot)}` });
      return { method: 'GET', path: '/api/products/1', next };
    }
    case 'cached-list':
      return { method: 'GET', path: `/api/products?${LIST_QUERY}` };
    case 'get-by-id':
    case 'limited-get-by-id': {
      let i = 0;
      // Every contender reads the same id sequence, spread over the whole table.
      const next = () => ({ path: `${base}/${1 + ((i++ * 7919) % rows)}` });
      return { method: 'GET', path: `${base}/1`, next };
    }
    case 'get-by-id-304': {
      if (!nestorLike && contender !== 'equivalent-raw') {
        return undefined; // the others send no ETag
      }
      let i = 0;
      const next = () => {
        const id = 1 + ((i++ * 7919) % hot);
        return { path: `/api/products/${id}`, headers: { 'if-none-match': context.etags.get(id) ?? '' } };
      };
      return { method: 'GET', path: '/api/products/1', next, expectStatus: 304 };
    }
    case 'list':
    case 'list-include': {
      const include = scenario === 'list-include';
      const query = {
        raw: `${LIST_QUERY}${include ? '&include=category' : ''}`,
        nestor: `${LIST_QUERY}${include ? '&include=category' : ''}`,
        'nestor-before': `${LIST_QUERY}${include ? '&include=category' : ''}`,
        'nestor-cached': undefined, // not in these scenarios
        'nestor-limited': undefined,
        'equivalent-raw': undefined, // create and get only
        'nest-handwritten': `limit=20&minPrice=10&sort=-price${include ? '&include=category' : ''}`,
        peer: `limit=20&filter=price||$gte||10&sort=price,DESC&sort=id,DESC${include ? '&join=category' : ''}`,
      }[contender];
      return query === undefined ? undefined : { method: 'GET', path: `${base}?${query}` };
    }
    case 'graphql-list-include':
      return nestorLike
        ? { method: 'POST', path: '/graphql', body: JSON.stringify({ query: GRAPHQL_LIST_INCLUDE }) }
        : undefined; // the only contender that speaks GraphQL
    case 'create': {
      let i = 0;
      const next = () => {
        i++;
        return {
          body: JSON.stringify({
            name: `Bench product ${i}`,
            sku: `BENCH-${tag}-${i}`,
            description: 'Made by the benchmark',
            price: '5.00', // below every list filter, so lists stay identical
            stock: 7,
            status: 'active',
            categoryId: 1 + (i % 50),
          }),
        };
      };
      const signed = nestorLike || contender === 'equivalent-raw';
      return {
        method: 'POST',
        path: base,
        headers: signed ? { authorization: `Bearer ${context.token}` } : {},
        next,
      };
    }
    case 'admin-schema':
      return nestorLike
        ? { method: 'GET', path: '/admin/api/schema', headers: { authorization: `Bearer ${context.token}` } }
        : undefined;
    default:
      return undefined; // deep-page is measured on its own (several depths per contender)
  }
}
