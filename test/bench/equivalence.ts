/**
 * The checks that make the baselines baselines: raw answers with Nestor's bytes, and equivalent-raw does
 * Nestor's work (the same bytes, ETags, Cache-Control, 304s, and the same audit entry per create). A
 * difference stops the benchmark before anything is measured.
 */
import { http } from 'test/bench/processes';
import { queryValue, removeCreated } from 'test/bench/seed';

/** Where two texts first differ, with some context on each side. */
export function firstDifference(a: string, b: string, names = ['nestor', 'raw']): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) {
    i++;
  }
  const [first, second] = names.map((name) => `${name}:`.padEnd(Math.max(...names.map((n) => n.length)) + 2));
  return `at byte ${i}:\n  ${first}…${a.slice(Math.max(0, i - 60), i + 60)}\n  ${second}…${b.slice(Math.max(0, i - 60), i + 60)}`;
}

/** The body every check creates (its row and audit entry are removed right after). */
export const IDENTITY_BODY = {
  name: 'Identity check',
  sku: 'BENCH-IDENTITY',
  description: null,
  price: '5.00',
  stock: 1,
  status: 'active',
  categoryId: 2,
};

/** A created product's JSON without what naturally differs between two creates (id, timestamps). */
export function normaliseCreated(text: string): string {
  return text.replace(/"id":\d+/, '"id":0').replace(/"(createdAt|updatedAt)":"[^"]+"/g, '"$1":"T"');
}

/** The audit entries of products, as JSON text, with the record id checked against `id` and left out. */
async function auditEntries(url: string, id: unknown): Promise<string> {
  const entries = await queryValue<string>(
    url,
    `SELECT coalesce(json_agg(json_build_object('actorId', "actorId", 'actorEmail', "actorEmail", 'via', via,
       'resource', resource, 'operation', operation, 'actionName', "actionName", 'changes', changes,
       'recordIdMatches', "recordId" = '${Number(id)}') ORDER BY id), '[]')::text AS v
       FROM audit_entry WHERE resource = 'products'`,
  );
  return entries;
}

interface Port {
  name: string;
  port: number;
}

/**
 * Fails unless equivalent-raw answers like nestor: the same body, ETag and Cache-Control for each product id,
 * a 304 to its own ETag, and a create (with `token`) answered with the same JSON, a Location and an ETag, and
 * recorded as the same audit entry.
 */
export async function verifyEquivalent(
  url: string,
  token: string,
  equivalent: Port,
  nestor: Port,
  ids: number[],
): Promise<void> {
  const names = [nestor.name, equivalent.name];
  const fail = (what: string, a: string, b: string) => {
    throw new Error(`NOT EQUIVALENT: ${what} ${firstDifference(a, b, names)}`);
  };
  for (const id of ids) {
    const path = `/api/products/${id}`;
    const [a, b] = await Promise.all([http(nestor.port, 'GET', path), http(equivalent.port, 'GET', path)]);
    const shown = (answer: typeof a) =>
      `${answer.status} etag ${String(answer.headers.etag)} cache-control ${String(answer.headers['cache-control'])}\n${answer.body}`;
    if (a.status !== 200 || !a.headers.etag || shown(a) !== shown(b)) {
      fail(`GET ${path}`, shown(a), shown(b));
    }
    const headers = { 'if-none-match': String(a.headers.etag) };
    const [c, d] = await Promise.all([
      http(nestor.port, 'GET', path, { headers }),
      http(equivalent.port, 'GET', path, { headers }),
    ]);
    if (c.status !== 304 || d.status !== 304) {
      fail(`GET ${path} with If-None-Match`, `${c.status} ${c.body}`, `${d.status} ${d.body}`);
    }
  }
  const authorization = { authorization: `Bearer ${token}` };
  const created: { text: string; audit: string }[] = [];
  for (const contender of [nestor, equivalent]) {
    const answer = await http(contender.port, 'POST', '/api/products', {
      body: IDENTITY_BODY,
      headers: authorization,
    });
    const id = (JSON.parse(answer.body) as { id?: number }).id;
    created.push({
      text: `${answer.status} location ${String(answer.headers.location).replace(/\d+$/, ':id')} etag ${answer.headers.etag ? 'sent' : 'missing'}\n${normaliseCreated(answer.body)}`,
      audit: await auditEntries(url, id),
    });
    await removeCreated(url);
  }
  const [a, b] = created;
  if (!a.text.startsWith('201') || a.text !== b.text) {
    fail('POST /api/products', a.text, b.text);
  }
  if (!a.audit.includes('"recordIdMatches" : true') || a.audit !== b.audit) {
    fail('audit entry of POST /api/products', a.audit, b.audit);
  }
}

interface RestList {
  data: Record<string, unknown>[];
  meta: { total: number; nextCursor: string | null };
}
interface GraphqlList {
  data?: {
    products: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
      edges: { node: Record<string, unknown> }[];
    };
  };
  errors?: unknown[];
}

/**
 * Fails unless a contender's GraphQL list answers REST's list with include: the same rows in the same order,
 * each with the same fields, values and related row (the nodes' JSON is REST's rows' JSON), the same count,
 * and the same next cursor. A page without rows or without related rows would prove nothing, so fails too.
 */
export async function verifyGraphqlList(contender: Port, restPath: string, query: string): Promise<number> {
  const [rest, graphql] = await Promise.all([
    http(contender.port, 'GET', restPath),
    http(contender.port, 'POST', '/graphql', { body: { query } }),
  ]);
  const names = [`${contender.name} REST`, `${contender.name} GraphQL`];
  const fail = (what: string, a: string, b: string) => {
    throw new Error(`NOT EQUIVALENT: ${what} ${firstDifference(a, b, names)}`);
  };
  const list = JSON.parse(rest.body) as RestList;
  const answer = JSON.parse(graphql.body) as GraphqlList;
  const products = answer.data?.products;
  if (rest.status !== 200 || graphql.status !== 200 || !products || answer.errors) {
    fail(
      `GET ${restPath} and POST /graphql`,
      `${rest.status} ${rest.body}`,
      `${graphql.status} ${graphql.body}`,
    );
  }
  const nodes = products!.edges.map((edge) => edge.node);
  if (list.data.length === 0 || list.data.some((row) => !row.category)) {
    fail(`GET ${restPath}: an empty page, or rows without their relation`, rest.body, graphql.body);
  }
  const rows = JSON.stringify(list.data);
  if (rows !== JSON.stringify(nodes)) {
    fail(`rows of GET ${restPath} and POST /graphql`, rows, JSON.stringify(nodes));
  }
  const page = (total: number, next: string | null) => `totalCount ${total}, next cursor ${next}`;
  const { totalCount, pageInfo } = products!;
  const restPage = page(list.meta.total, list.meta.nextCursor);
  if (restPage !== page(totalCount, pageInfo.hasNextPage ? pageInfo.endCursor : null)) {
    fail(
      `count and cursor of GET ${restPath} and POST /graphql`,
      restPage,
      page(totalCount, pageInfo.endCursor),
    );
  }
  return nodes.length;
}
