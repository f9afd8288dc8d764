import 'src/app/catalog/catalog.factories';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { TestApp, createTestApp } from 'src/framework/testing';
import { raw } from 'test/graphql/graphql-client';
import { catalogueStatements } from 'test/support/statements';

/**
 * Nested relations without N+1 and without abuse (issue 22 item 3): include-able relations are fields
 * loaded through per-request DataLoaders, one statement per relation level whatever the page size; depth
 * and complexity limits refuse documents before they run; GraphQL requests spend the same request budget.
 */

const NESTED = (first: number) => `{
  products(first: ${first}, sort: [name_ASC]) {
    edges { node { name category { name parent { name } } tags { name } } }
  }
}`;

describe('GraphQL relations and limits', () => {
  let t: TestApp;
  let dataSource: DataSource;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, {
      env: { WORKERS: 'off', GRAPHQL_MAX_DEPTH: '6', GRAPHQL_MAX_COMPLEXITY: '2000' },
    });
    dataSource = t.app.get(DataSource);
    const root = await t.factory(Category).create({ name: 'Root' });
    const tags = await t.factory(Tag).createMany(3);
    for (let i = 0; i < 30; i++) {
      const category = await t.factory(Category).create({ name: `Cat ${i}`, parent: root });
      await t.factory(Product).create({
        name: `P${String(i).padStart(2, '0')}`,
        category,
        tags: tags.slice(0, i % 4),
      });
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  /** The statements one document runs on the catalogue's tables, through TypeORM's logger. */
  async function statements(query: string): Promise<{ sql: string[]; data: Record<string, unknown> | null }> {
    const { result: answer, sql } = await catalogueStatements(dataSource, () => raw(t.anonymous(), query));
    expect(answer.errors).toBeUndefined();
    return { sql, data: answer.data };
  }

  it('loads each relation level with one statement, whatever the page size', async () => {
    const small = await statements(NESTED(3));
    const large = await statements(NESTED(30));
    const relationReads = (sql: string[]) => sql.filter((q) => q.includes('"__owner"'));
    // category, category.parent, tags: three relation levels, three statements.
    expect(relationReads(small.sql)).toHaveLength(3);
    expect(relationReads(large.sql)).toHaveLength(3);
    expect(large.sql).toHaveLength(small.sql.length);
    const edges = (large.data!.products as { edges: { node: Record<string, unknown> }[] }).edges;
    expect(edges).toHaveLength(30);
    expect(edges[5].node).toEqual({
      name: 'P05',
      category: { name: 'Cat 5', parent: { name: 'Root' } },
      tags: [expect.objectContaining({ name: expect.any(String) })],
    });
  });

  it('refuses a document deeper than GRAPHQL_MAX_DEPTH before running it', async () => {
    const deep = await raw(
      t.anonymous(),
      '{ categories { edges { node { parent { parent { parent { parent { name } } } } } } } }',
    );
    expect(deep.status).toBe(400);
    expect(deep.errors?.[0]).toMatchObject({ extensions: { code: 'QUERY_TOO_DEEP', status: 400 } });
    expect(deep.errors?.[0].message).toMatch(/too deep.*6 levels/);
  });

  it('refuses a document whose estimated cost is over GRAPHQL_MAX_COMPLEXITY, with the reason', async () => {
    const wide = await raw(
      t.anonymous(),
      '{ products(first: 100) { edges { node { name tags { name id } category { name slug id } } } } }',
    );
    expect(wide.status).toBe(400);
    expect(wide.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/too complex.*2000/),
      extensions: { code: 'QUERY_TOO_COMPLEX' },
    });
    const viaVariable = await raw(
      t.anonymous(),
      'query ($n: Int) { products(first: $n) { edges { node { name tags { name id } category { name id } } } } }',
      { n: 1 },
    );
    expect(viaVariable.errors?.[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    const small = await raw(
      t.anonymous(),
      '{ products(first: 5) { edges { node { name tags { name } } } } }',
    );
    expect(small.errors).toBeUndefined();
  });
});

describe('GraphQL and the request budget', () => {
  it('counts a GraphQL request like any other, then answers 429 with Retry-After', async () => {
    const t = await createTestApp(AppModule.forRoot, { env: { RATE_LIMIT_ANON: '3/minute' } });
    try {
      expect((await t.inject('/api/categories')).statusCode).toBe(200);
      expect((await raw(t, '{ categories { totalCount } }')).status).toBe(200);
      const third = await raw(t, '{ categories { totalCount } }');
      expect(third.headers['x-ratelimit-remaining']).toBe('0');
      const over = await raw(t, '{ categories { totalCount } }');
      expect(over.status).toBe(429);
      expect(over.headers['retry-after']).toBeDefined();
      expect(over.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      expect((await t.inject('/api/categories')).statusCode).toBe(429);
    } finally {
      await t.close();
    }
  });
});
