/**
 * Schema-driven fuzzing (issue 9): reads `/docs-json` and, with fast-check and a fixed seed, sends requests to
 * every operation as anonymous, a customer and staff: valid inputs, boundary values, wrong types, missing and
 * extra fields, huge and deeply nested bodies, odd unicode, malformed query strings and path ids. Checks, as
 * Schemathesis does: no 5xx; invalid input refused (400/422 problem+json, or an auth/size/type refusal); every
 * response has a documented status, content type and schema; a refused write changes no table.
 * Seed: FUZZ_SEED (default 20240509). Runs per operation and principal: FUZZ_RUNS (default 50).
 */
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { TestApp, TestClient, TestUser, createTestApp } from 'src/framework/testing';
import { FuzzContext, requestOf } from 'test/reliability/fuzz/arbitraries';
import { SchemaValidator, Violation, checkResponse } from 'test/reliability/fuzz/checks';
import { tableFingerprint } from 'test/reliability/fuzz/fingerprint';
import { OpenApiDocument, Operation, operationsOf } from 'test/reliability/fuzz/openapi-model';

const SEED = Number(process.env.FUZZ_SEED ?? 20240509);
const RUNS = Number(process.env.FUZZ_RUNS ?? 50);
const BODY_LIMIT = 1024 * 1024;
/** Tables a refused request may legitimately write: failed logins are counted for throttling. */
const WRITES_ON_REJECT = new Set(['login_attempt']);

jest.setTimeout(600_000);

interface Tally {
  requests: number;
  byPrincipal: Record<string, number>;
  byStrategy: Record<string, number>;
  byStatus: Record<string, number>;
  serverErrors: number;
  violations: Violation[];
}

const tally: Tally = {
  requests: 0,
  byPrincipal: {},
  byStrategy: {},
  byStatus: {},
  serverErrors: 0,
  violations: [],
};
/** SEED mixed with a string (FNV-1a), so each property gets its own fixed seed. */
const seedOf = (text: string) =>
  [...text].reduce((hash, c) => Math.imul(hash ^ c.charCodeAt(0), 16777619) >>> 0, SEED >>> 0) | 0;
const bump = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);

let t: TestApp;
let document: OpenApiDocument;
let validator: SchemaValidator;
let context: FuzzContext;
let fingerprint: () => Promise<Map<string, string>>;
const principals: Record<string, TestClient> = {};
const protectedUserIds = new Set<string>();

/** Operations, the destructive ones last so the others still meet existing rows. */
function orderedOperations(doc: OpenApiDocument): Operation[] {
  const all = operationsOf(doc);
  return [...all.filter((o) => o.method !== 'DELETE'), ...all.filter((o) => o.method === 'DELETE')];
}

// The document is read once, before the tests are declared: the spec boots its own app for it below.
const declared = require('test/snapshots/openapi.json') as OpenApiDocument; // eslint-disable-line @typescript-eslint/no-require-imports

beforeAll(async () => {
  t = await createTestApp(AppModule.forRoot, { env: { BODY_LIMIT: String(BODY_LIMIT) } });
  const docs = await t.inject('/docs-json');
  document = docs.json<OpenApiDocument>();
  validator = new SchemaValidator(document);

  const customer = await t.createUser();
  const staff = await t.createUser({ isStaff: true, isSuperuser: true });
  protectedUserIds.add(String(customer.id)).add(String(staff.id));
  principals.anonymous = t.anonymous();
  principals.customer = t.actingAs(customer);
  principals.staff = t.actingAs(staff);

  // Rows the ids point at: a few of each, and an order the customer owns.
  const categories = await t.factory(Category).createMany(3);
  await t.factory(Tag).createMany(3);
  const products = await t
    .factory(Product)
    .createMany(5, { categoryId: categories[0].id, status: ProductStatus.Active });
  await principals.customer.inject({
    method: 'POST',
    url: '/api/orders',
    payload: { items: [{ productId: products[0].id, quantity: 1 }] },
  });
  await Promise.all([t.createUser(), t.createUser(), t.createUser()].map((p) => p.then((u: TestUser) => u)));
  await principals.staff.inject({
    method: 'POST',
    url: '/api/auth/api-keys',
    payload: { name: 'fuzz', permissions: [] },
  });

  const ids = new Map<string, string[]>();
  for (const operation of operationsOf(document)) {
    const list = /^\/api\/([a-z-]+)$/.exec(operation.path);
    if (operation.method === 'GET' && list) {
      const res = await principals.staff.inject(`${operation.path}?limit=10`);
      const rows = (res.json<{ data?: { id: number }[] }>().data ?? []).map((row) => String(row.id));
      ids.set(
        list[1],
        rows.filter((id) => !(list[1] === 'users' && protectedUserIds.has(id))),
      );
    }
  }
  const keys = await principals.staff.inject('/api/auth/api-keys');
  ids.set(
    'api-keys',
    (keys.json<{ id: number }[]>() ?? []).map((k) => String(k.id)),
  );
  const queues = await principals.staff.inject('/admin/api/jobs/queues');
  const queueNames = queues.statusCode === 200 ? queues.json<{ name: string }[]>().map((q) => q.name) : [];

  context = {
    document,
    bodyLimit: BODY_LIMIT,
    pathValues: (operation, parameter) => {
      const resource = /^\/api\/(?:auth\/)?([a-z-]+)\/\{id\}/.exec(operation.path)?.[1];
      if (parameter === 'id' && resource && ids.has(resource)) {
        return [...(ids.get(resource) ?? []), '999999'];
      }
      switch (parameter) {
        case 'name':
          return [...queueNames, 'nope'];
        case 'id':
          return ['1', '2', 'nope'];
        case 'path':
          return ['products', 'orders', 'categories', 'nope'];
        case 'action':
          return ['archive', 'mark-shipped', 'resend-confirmation', 'nope'];
        case 'file':
          return ['products.csv', 'orders.csv', 'categories.csv', 'nope.csv', 'products'];
        default:
          return ['1'];
      }
    },
  };
  fingerprint = await tableFingerprint(t.app.get(DataSource), WRITES_ON_REJECT);
}, 300_000);

afterAll(async () => {
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  const byCheck: Record<string, number> = {};
  tally.violations.forEach((v) => bump(byCheck, v.check));
  console.log(
    [
      `fuzz: seed ${SEED}, ${RUNS} runs per operation and principal`,
      `requests: ${tally.requests}; 5xx: ${tally.serverErrors}; violations: ${tally.violations.length} (${counts(byCheck)})`,
      `by principal: ${counts(tally.byPrincipal)}`,
      `by strategy: ${counts(tally.byStrategy)}`,
      `by status: ${counts(tally.byStatus)}`,
    ].join('\n'),
  );
  await t?.close();
});

const describeOperations = orderedOperations(declared);

describe.each(['anonymous', 'customer', 'staff'])('fuzzing every operation as %s', (principal) => {
  it.each(describeOperations.map((o) => [o.key, o] as const))('%s', async (key) => {
    const operation = operationsOf(document).find((o) => o.key === key);
    expect(operation).toBeDefined();
    const violations: Violation[] = [];
    const client = principals[principal];
    await fc.assert(
      fc.asyncProperty(requestOf(context, operation!), async (request) => {
        // A mutating request's effect is measured around it, so only one runs at a time.
        const writes = operation!.method !== 'GET';
        if (writes) {
          // Jobs an earlier accepted request queued (mail, tokens) must not count as this request's writes.
          await t.drainJobs();
        }
        const before = writes ? await fingerprint() : undefined;
        const init: InjectOptions = {
          method: operation!.method,
          url: request.url,
          headers: request.headers,
        };
        if (request.payload !== undefined) {
          init.payload = request.payload;
        }
        const response = await client.inject(init);
        // A body the documented schema refuses must be refused by the server too.
        if (!request.invalid && request.hasBody && request.body !== undefined && operation!.body) {
          request.invalid = validator.validate(operation!.body, request.body) !== undefined;
        }
        tally.requests += 1;
        bump(tally.byPrincipal, principal);
        bump(tally.byStrategy, request.strategy);
        bump(tally.byStatus, String(response.statusCode));
        if (response.statusCode >= 500) {
          tally.serverErrors += 1;
        }
        const found = checkResponse(validator, operation!, request, response);
        if (before && response.statusCode >= 400) {
          const after = await fingerprint();
          for (const [table, print] of after) {
            if (before.get(table) !== print) {
              found.push({
                check: 'wrote-on-reject',
                status: response.statusCode,
                detail: `${table}: ${before.get(table)} → ${print}`,
              });
            }
          }
        }
        for (const v of found) {
          violations.push({
            ...v,
            operation: key,
            principal,
            strategy: request.strategy,
            request: `${operation!.method} ${request.url.slice(0, 200)} ${request.payload?.slice(0, 200) ?? ''}`,
          });
        }
        return true;
      }),
      // A seed per operation and principal: one shared seed would pick the same strategies everywhere.
      { seed: seedOf(`${principal} ${key}`), numRuns: RUNS },
    );
    tally.violations.push(...violations);
    // One line per distinct (check, status, strategy), with a sample request: enough to reproduce.
    const distinct = new Map<string, Violation>();
    for (const v of violations) {
      distinct.set(`${v.check} ${v.status} ${v.strategy} ${v.detail.slice(0, 80)}`, v);
    }
    expect(
      [...distinct.values()].map(
        (v) => `${v.check} ${v.status} [${v.strategy}] ${v.detail.slice(0, 160)} ← ${v.request}`,
      ),
    ).toEqual([]);
  });
});
