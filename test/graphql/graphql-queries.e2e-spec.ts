import { createHash } from 'node:crypto';
import 'src/app/catalog/catalog.factories';
import { gql } from 'graphql-request';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { TestApp, createTestApp } from 'src/framework/testing';
import { client, raw } from 'test/graphql/graphql-client';

/**
 * The GraphQL endpoint built from the resources (issue 22 item 1): object types with REST's visible fields,
 * single-row and list queries as Relay connections with REST's keyset cursors, and filter, sort and search
 * arguments typed from the same allow-lists.
 */

interface ProductNode {
  id: number;
  name: string;
  price: string;
  status: string;
  stock: number;
}
interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  totalCount: number;
}

const PRODUCTS = gql`
  query Products(
    $first: Int
    $after: String
    $filter: ProductFilter
    $sort: [ProductSort!]
    $search: String
  ) {
    products(first: $first, after: $after, filter: $filter, sort: $sort, search: $search) {
      edges {
        cursor
        node {
          id
          name
          price
          status
          stock
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      totalCount
    }
  }
`;

describe('GraphQL queries from the resources', () => {
  let t: TestApp;
  let products: Product[];
  let category: Category;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    category = await t.factory(Category).create({ name: 'Games', slug: 'games-gql' });
    products = [];
    for (let i = 0; i < 7; i++) {
      products.push(
        await t.factory(Product).create({
          name: i === 3 ? 'Wooden puzzle' : `Board game ${i}`,
          // Search reads descriptions too: the factory's random ones say "wood" about once in 80.
          description: `Game number ${i}`,
          price: `${10 + i}.50`,
          stock: i,
          status: i % 2 === 0 ? ProductStatus.Active : ProductStatus.Draft,
          category,
        }),
      );
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  const anonymous = () => client(t.anonymous());

  it('answers a Relay connection with totalCount and REST keyset cursors, page after page', async () => {
    const seen: number[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const { products: page }: { products: Connection<ProductNode> } = await anonymous().request(PRODUCTS, {
        first: 3,
        after,
        sort: ['price_ASC'],
      });
      pages++;
      expect(page.totalCount).toBe(7);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1].cursor);
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) {
        break;
      }
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(products.map((p) => p.id));
  });

  it('uses the same cursors as REST: an edge cursor resumes a REST list, and the REST cursor a GraphQL one', async () => {
    const { products: page }: { products: Connection<ProductNode> } = await anonymous().request(PRODUCTS, {
      first: 2,
      sort: ['price_DESC'],
    });
    const rest = await t
      .anonymous()
      .inject(`/api/products?limit=2&sort=-price&after=${page.pageInfo.endCursor}`);
    const restIds = rest.json<{ data: { id: number }[]; meta: { nextCursor: string } }>();
    expect(restIds.data.map((p) => p.id)).toEqual([products[4].id, products[3].id]);
    const next: { products: Connection<ProductNode> } = await anonymous().request(PRODUCTS, {
      first: 2,
      sort: ['price_DESC'],
      after: restIds.meta.nextCursor,
    });
    expect(next.products.edges.map((e) => e.node.id)).toEqual([products[2].id, products[1].id]);
  });

  it('filters, sorts and searches with typed arguments from the allow-lists', async () => {
    const { products: page }: { products: Connection<ProductNode> } = await anonymous().request(PRODUCTS, {
      filter: { status: { eq: 'active' }, price: { gte: '12' }, category_slug: { in: ['games-gql'] } },
      sort: ['stock_DESC'],
    });
    expect(page.edges.map((e) => e.node.stock)).toEqual([6, 4, 2]);
    expect(page.totalCount).toBe(3);
    const found: { products: Connection<ProductNode> } = await anonymous().request(PRODUCTS, {
      search: 'wooden',
    });
    expect(found.products.edges.map((e) => e.node.name)).toEqual(['Wooden puzzle']);
  });

  it('clamps first at maxLimit and refuses what REST refuses, naming the argument', async () => {
    const big = await raw(t.anonymous(), '{ products(first: 1000) { edges { node { id } } } }');
    expect(big.errors).toBeUndefined();
    const bad = await raw(t.anonymous(), '{ products(first: 0) { totalCount } }');
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      status: 400,
      errors: [expect.objectContaining({ parameter: 'first' })],
    });
    const cursor = await raw(t.anonymous(), '{ products(after: "not-a-cursor") { totalCount } }');
    expect(cursor.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [expect.objectContaining({ parameter: 'after' })],
    });
    // A filter or operator off the allow-list is not even in the schema.
    const unknown = await raw(t.anonymous(), '{ products(filter: { sku: { gt: "A" } }) { totalCount } }');
    expect(unknown.status).toBe(400);
    expect(unknown.errors?.[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const description = await raw(
      t.anonymous(),
      '{ products(filter: { description: { eq: "x" } }) { totalCount } }',
    );
    expect(description.errors?.[0].message).toMatch(/description/);
  });

  it('answers a malformed request 400 with a GraphQL error that names the problem, never a 500', async () => {
    const notJsonObject = /^The request body must be a JSON object/;
    const noDocument = /^The request has no GraphQL document: send it as `query`/;
    const cases: {
      method: 'POST' | 'GET';
      url: string;
      payload?: unknown;
      code: string;
      message: RegExp;
    }[] = [
      {
        method: 'POST',
        url: '/graphql',
        payload: { query: 5 },
        code: 'GRAPHQL_PARSE_FAILED',
        message: /document/,
      },
      {
        method: 'POST',
        url: '/graphql',
        payload: { query: 'null' },
        code: 'GRAPHQL_PARSE_FAILED',
        message: /document/,
      },
      {
        method: 'POST',
        url: '/graphql',
        payload: { query: '{"kind":"Document"}' },
        code: 'GRAPHQL_PARSE_FAILED',
        message: /document/,
      },
      {
        method: 'POST',
        url: '/graphql',
        payload: { query: '{"kind":"Document","definitions":[5]}' },
        code: 'GRAPHQL_PARSE_FAILED',
        message: /document/,
      },
      {
        method: 'POST',
        url: '/graphql',
        payload: { query: '{ __typename }', variables: 'x' },
        code: 'BAD_REQUEST',
        message: /^`variables` must be a JSON object/,
      },
      {
        method: 'POST',
        url: '/graphql',
        payload: { query: '{ __typename }', extensions: 5 },
        code: 'BAD_REQUEST',
        message: /^`extensions` must be a JSON object/,
      },
      {
        method: 'POST',
        url: '/graphql',
        payload: { query: { text: '{ __typename }' } },
        code: 'BAD_REQUEST',
        message: /^`query` must be a string/,
      },
      { method: 'POST', url: '/graphql', payload: {}, code: 'BAD_REQUEST', message: noDocument },
      { method: 'POST', url: '/graphql', payload: { query: '' }, code: 'BAD_REQUEST', message: noDocument },
      { method: 'POST', url: '/graphql', payload: [], code: 'BAD_REQUEST', message: notJsonObject },
      { method: 'POST', url: '/graphql', payload: '5', code: 'BAD_REQUEST', message: notJsonObject },
      {
        method: 'POST',
        url: '/graphql',
        payload: '{"query":',
        code: 'BAD_USER_INPUT',
        message: /Malformed JSON/,
      },
      { method: 'GET', url: '/graphql?query=5', code: 'GRAPHQL_PARSE_FAILED', message: /document/ },
      { method: 'GET', url: '/graphql', code: 'BAD_REQUEST', message: noDocument },
      {
        method: 'GET',
        url: '/graphql?query=%7B__typename%7D&variables=not-json',
        code: 'BAD_REQUEST',
        message: /^`variables` in the query string is not valid JSON/,
      },
      {
        method: 'GET',
        url: '/graphql?query=%7B__typename%7D&extensions=not-json',
        code: 'BAD_REQUEST',
        message: /^`extensions` in the query string is not valid JSON/,
      },
      // No operation to run: graphql-js's words, as a POST gets them (Mercurius's GET check threw a 500).
      {
        method: 'GET',
        url: '/graphql?query=%7B__typename%7D&operationName=other',
        code: 'GRAPHQL_VALIDATION_FAILED',
        message: /^Unknown operation named "other"\.$/,
      },
      {
        method: 'GET',
        url: `/graphql?query=${encodeURIComponent('query a { __typename } query b { __typename }')}`,
        code: 'GRAPHQL_VALIDATION_FAILED',
        message: /^Must provide operation name if query contains multiple operations\.$/,
      },
    ];
    const answers = [];
    for (const { method, url, payload } of cases) {
      const res = await t.anonymous().inject({
        method,
        url,
        ...(typeof payload === 'string'
          ? { payload, headers: { 'content-type': 'application/json' } }
          : payload === undefined
            ? {}
            : { payload: payload as object }),
      });
      const body = res.json<{ data: unknown; errors: { message: string; extensions: { code: string } }[] }>();
      answers.push({
        method,
        url,
        payload,
        status: res.statusCode,
        data: body.data,
        code: body.errors[0].extensions.code,
        message: body.errors[0].message,
      });
    }
    expect(answers).toEqual(
      cases.map(({ message, ...c }) => ({
        ...c,
        status: 400,
        data: null,
        message: expect.stringMatching(message),
      })),
    );
    const notText = await raw(t.anonymous(), '5');
    expect(notText.errors?.[0]).toMatchObject({
      message: 'Syntax Error: the query is not a GraphQL document',
      extensions: { code: 'GRAPHQL_PARSE_FAILED', status: 400 },
    });
  });

  it('reads one row by id, null when there is none', async () => {
    const { product, missing } = await anonymous().request<{ product: ProductNode; missing: null }>(
      gql`
        query One($id: Int!) {
          product(id: $id) {
            id
            name
            price
          }
          missing: product(id: 999999) {
            id
          }
        }
      `,
      { id: products[3].id },
    );
    expect(product).toEqual({ id: products[3].id, name: 'Wooden puzzle', price: '13.50' });
    expect(missing).toBeNull();
  });

  it('answers each field with REST’s value: timestamps as REST’s ISO text, the relation’s too', async () => {
    const fields =
      'id name sku description price stock status categoryId createdAt updatedAt version deletedAt tagIds';
    const categoryFields = 'id name slug description parentId createdAt updatedAt';
    const answer = await raw(
      t.anonymous(),
      `{ product(id: ${products[3].id}) { ${fields} category { ${categoryFields} } } }`,
    );
    const rest = await t.anonymous().inject(`/api/products/${products[3].id}?include=category`);
    expect(rest.statusCode).toBe(200);
    expect(answer.data!.product).toEqual(rest.json());
    expect(answer.data!.product).toMatchObject({ createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
  });

  it('shows REST’s fields only: hidden and write-only ones are not in the types', async () => {
    const schema = await raw(
      t,
      '{ user: __type(name: "User") { fields { name } } input: __type(name: "UserCreateInput") { inputFields { name } } }',
    );
    const fields = (schema.data!.user as { fields: { name: string }[] }).fields.map((f) => f.name);
    expect(fields).toEqual(expect.arrayContaining(['id', 'email', 'isStaff']));
    for (const hidden of ['passwordHash', 'totpSecret', 'totpRecoveryCodes', 'totpLastStep']) {
      expect(fields).not.toContain(hidden);
    }
    const rest = await t.inject('/api/users?limit=1');
    expect(Object.keys(rest.json<{ data: Record<string, unknown>[] }>().data[0]).sort()).toEqual(
      // The GraphQL type adds the row's etag and the include-able relations (groups, permissions) as fields.
      fields.filter((f) => !['etag', 'groups', 'permissions'].includes(f)).sort(),
    );
  });

  // The IDE's page itself (built into graphiql/dist): test/graphql/graphiql-browser.e2e-spec.ts.
  it('serves GraphiQL and introspection in development and test', async () => {
    expect((await t.anonymous().inject('/graphiql')).statusCode).not.toBe(404);
    const types = await raw(t.anonymous(), '{ __schema { queryType { name } } }');
    expect(types.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

/** One POST of Apollo's automatic persisted queries: the document's hash, with or without the document. */
async function persisted(t: TestApp, query: string, withDocument: boolean) {
  const sha256Hash = createHash('sha256').update(query).digest('hex');
  const res = await t.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({
      ...(withDocument ? { query } : {}),
      extensions: { persistedQuery: { version: 1, sha256Hash } },
    }),
  });
  return res.json<{ data?: unknown; errors?: { message: string; extensions: { code: string } }[] }>();
}

describe('GraphQL automatic persisted queries', () => {
  const query = '{ categories { totalCount } }';

  it('answers a known hash without its document, and asks once for an unknown one', async () => {
    const t = await createTestApp(AppModule.forRoot);
    try {
      expect((await persisted(t, query, false)).errors?.[0].extensions.code).toBe(
        'PERSISTED_QUERY_NOT_FOUND',
      );
      expect((await persisted(t, query, true)).data).toEqual({ categories: { totalCount: 0 } });
      expect((await persisted(t, query, false)).data).toEqual({ categories: { totalCount: 0 } });
      // A hash that is not the document's is refused, not stored under the wrong name.
      const lie = await t.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          query: '{ users { totalCount } }',
          extensions: {
            persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') },
          },
        }),
      });
      expect(lie.json<{ errors?: unknown[] }>().errors).toHaveLength(1);
      expect(lie.json<{ data?: unknown }>().data ?? null).toBeNull();
    } finally {
      await t.close();
    }
  });

  it('answers a GET by hash whose stored document has no operation to run as a POST would: 400', async () => {
    const t = await createTestApp(AppModule.forRoot);
    try {
      const document = 'query a { categories { totalCount } } query b { __typename }';
      const sha256Hash = createHash('sha256').update(document).digest('hex');
      const stored = await t.anonymous().inject({
        method: 'POST',
        url: '/graphql',
        payload: {
          query: document,
          operationName: 'a',
          extensions: { persistedQuery: { version: 1, sha256Hash } },
        },
      });
      expect(stored.json()).toEqual({ data: { categories: { totalCount: 0 } } });
      const extensions = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash } }));
      const answers = [];
      for (const operation of ['', '&operationName=nope', '&operationName=a']) {
        const res = await t
          .anonymous()
          .inject({ method: 'GET', url: `/graphql?extensions=${extensions}${operation}` });
        const body = res.json<{
          data: unknown;
          errors?: { message: string; extensions: { code: string } }[];
        }>();
        answers.push({
          status: res.statusCode,
          data: body.data,
          error: body.errors?.[0].message,
          code: body.errors?.[0].extensions.code,
        });
      }
      // Mercurius read the stored document's operation as a TypeError: a 500 before.
      expect(answers).toEqual([
        {
          status: 400,
          data: null,
          error: 'Must provide operation name if query contains multiple operations.',
          code: 'GRAPHQL_VALIDATION_FAILED',
        },
        {
          status: 400,
          data: null,
          error: 'Unknown operation named "nope".',
          code: 'GRAPHQL_VALIDATION_FAILED',
        },
        { status: 200, data: { categories: { totalCount: 0 } }, error: undefined, code: undefined },
      ]);
    } finally {
      await t.close();
    }
  });

  it('is off with GRAPHQL_PERSISTED_QUERIES=off: a hash alone is not a document', async () => {
    const t = await createTestApp(AppModule.forRoot, { env: { GRAPHQL_PERSISTED_QUERIES: 'off' } });
    try {
      await persisted(t, query, true);
      const answer = await persisted(t, query, false);
      expect(answer.data ?? null).toBeNull();
      // Apollo's clients stop sending hashes when told persisted queries are not supported.
      expect(answer.errors?.[0].extensions.code).toBe('PERSISTED_QUERY_NOT_SUPPORTED');
      expect(answer.errors?.[0].message).toMatch(/GRAPHQL_PERSISTED_QUERIES=off/);
      // The same over GET, where `extensions` is JSON in the query string.
      const sha256Hash = createHash('sha256').update(query).digest('hex');
      const extensions = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash } }));
      const overGet = await t.inject({ method: 'GET', url: `/graphql?extensions=${extensions}` });
      expect(overGet.statusCode).toBe(400);
      expect(overGet.json<{ errors: { extensions: { code: string } }[] }>().errors[0].extensions.code).toBe(
        'PERSISTED_QUERY_NOT_SUPPORTED',
      );
    } finally {
      await t.close();
    }
  });
});

describe('GraphQL configuration in production', () => {
  it('turns introspection and the IDE off unless configured, and moves the path', async () => {
    const t = await createTestApp(AppModule.forRoot, {
      env: { GRAPHQL_PATH: '/api/graphql', GRAPHQL_INTROSPECTION: 'off', GRAPHQL_IDE: 'off' },
    });
    try {
      const introspect = await raw(t, '{ __schema { types { name } } }', undefined, '/api/graphql');
      expect(introspect.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/introspection/i),
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      });
      expect((await t.inject('/graphiql')).statusCode).toBe(404);
      expect((await raw(t, '{ categories { totalCount } }', undefined, '/api/graphql')).data).toEqual({
        categories: { totalCount: 0 },
      });
      expect((await t.inject({ method: 'POST', url: '/graphql' })).statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });
});
