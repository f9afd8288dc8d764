// A program written against the client that @hey-api/openapi-ts generates from test/snapshots/openapi.json,
// as a user of the API would write it: no hand-written serializer, no casts. test/hey-api-client.e2e-spec.ts
// generates the client into ./client beside a copy of this file, compiles both with tsc (./tsconfig.json)
// and runs the result against a live app:  node scenario.js <baseUrl> <email> <password>
// It prints what it saw as one JSON object; the spec asserts on it.
import { client } from './client/client.gen.js';
import { authLogin, categoriesCreate, productsCreate, productsList } from './client/sdk.gen.js';

async function main(baseUrl: string, email: string, password: string) {
  client.setConfig({ baseUrl });

  const login = await authLogin({ body: { email, password } });
  if (!login.data) {
    throw new Error(`login answered ${login.response.status}`);
  }
  client.setConfig({ auth: login.data.accessToken });

  const category = await categoriesCreate({ body: { name: 'Kitchen', slug: 'kitchen' } });
  if (!category.data) {
    throw new Error(`categories.create answered ${category.response.status}`);
  }
  const created: { sku: string; status: number }[] = [];
  for (const [sku, price, status] of [
    ['CUP-001', '4.50', 'active'],
    ['CUP-002', '12.00', 'active'],
    ['POT-001', '39.90', 'draft'],
    ['POT-002', '24.00', 'archived'],
  ] as const) {
    const product = await productsCreate({
      body: { name: `Item ${sku}`, sku, price, stock: 5, status, categoryId: category.data.id },
    });
    created.push({ sku, status: product.response.status });
  }

  // Operator filters (gte, in), sparse fields, an embedded relation, a sort and keyset pages of one row.
  const pages: { status: number; skus: string[]; fields: string[][]; categories: unknown[] }[] = [];
  let after: string | undefined;
  do {
    const page = await productsList({
      query: {
        'filter[price][gte]': '10',
        'filter[status][in]': ['active', 'draft'],
        fields: ['sku', 'price'],
        include: ['category'],
        sort: ['-price'],
        limit: 1,
        after,
      },
    });
    if (!page.data) {
      throw new Error(`products.list answered ${page.response.status}: ${JSON.stringify(page.error)}`);
    }
    pages.push({
      status: page.response.status,
      skus: page.data.data.map((p) => p.sku),
      fields: page.data.data.map((p) => Object.keys(p).sort()),
      categories: page.data.data.map((p) => p.category?.slug),
    });
    after = page.data.meta.nextCursor ?? undefined;
  } while (after && pages.length < 10);

  // An invalid create: the problem's pointers name the fields at fault.
  const invalid = await productsCreate({
    body: { name: '', sku: 'CUP-001', price: '-1', categoryId: category.data.id },
  });
  return {
    created,
    pages,
    invalid: {
      status: invalid.response.status,
      contentType: invalid.response.headers.get('content-type'),
      pointers: (invalid.error?.errors ?? []).map((e) => e.pointer).sort(),
    },
  };
}

const [baseUrl, email, password] = process.argv.slice(2);
main(baseUrl, email, password).then(
  (seen) => process.stdout.write(`${JSON.stringify(seen)}\n`),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
