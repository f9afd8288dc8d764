import * as qs from 'qs';
import type { DataSource } from 'typeorm';
import { ident, tableOf } from 'src/framework/database/sql';
import type { PreparedReads } from 'src/framework/resource/prepared-reads';
import type { ListQuery } from 'src/framework/resource/query-types';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';

/** The list response of docs/architecture.md §4. */
export interface ListResult {
  data: ResourceRow[];
  meta: {
    page: number | null;
    limit: number;
    total: number;
    /** True when `total` is the planner's estimate (see `estimateCountAbove`). */
    totalEstimated?: boolean;
    pageCount: number;
    nextCursor: string | null;
  };
  links: { self: string; next: string | null; prev: string | null };
  /** Each row's keyset cursor, in `data` order, when the request asked for them (GraphQL's edges). */
  cursors?: string[];
}

/** Where a list was requested, to build `links`. */
export interface ListRequest {
  path: string;
  query: Record<string, unknown>;
  /**
   * The request's URL, when `query` is its query string exactly as parsed: the links of a URL seen before
   * are then not encoded again.
   */
  url?: string;
  /** Also answer every row's cursor (`ListResult.cursors`), not only the next page's. */
  cursors?: boolean;
}

/** Rows skipped before the page: 0 for cursor pages. */
export function pageOffset(query: ListQuery): number {
  return query.page !== undefined ? (query.page - 1) * query.limit : 0;
}

/** The SELECT of one page: `columns` of the rows matching `where`, in `order`, one row past the limit. */
export function pageStatement(
  definition: ResourceDefinition,
  query: ListQuery,
  columns: string,
  where: readonly string[],
  order: string,
): string {
  const offset = pageOffset(query);
  const table = tableOf(definition.metadata);
  const filtered = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  const window = `LIMIT ${query.limit + 1}${offset ? ` OFFSET ${offset}` : ''}`;
  const pk = `t.${ident(definition.id.column!.databaseName)}`;
  // A deep OFFSET page picks its ids first and computes the columns (to-many id arrays, cursor keys) for
  // those rows only: PostgreSQL evaluates the select list of every row it skips. At 1M rows, page 40,000:
  // 2.5 s -> 0.19 s, the same rows.
  return offset
    ? `SELECT ${columns} FROM ${table} t WHERE ${pk} IN (SELECT ${pk} FROM ${table} t${filtered} ` +
        `ORDER BY ${order} ${window}) ORDER BY ${order}`
    : `SELECT ${columns} FROM ${table} t${filtered} ORDER BY ${order} ${window}`;
}

/** Exact count, or the planner's estimate when it exceeds `estimateCountAbove`. */
export async function countRows(
  dataSource: DataSource,
  reads: PreparedReads,
  definition: ResourceDefinition,
  where: string[],
  params: unknown[],
  prepare: boolean,
): Promise<{ total: number; estimated: boolean }> {
  const from = `FROM ${tableOf(definition.metadata)} t${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
  const threshold = definition.options.estimateCountAbove;
  if (threshold !== undefined) {
    const plan = await dataSource.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] | string }[]>(
      `EXPLAIN (FORMAT JSON) SELECT 1 ${from}`,
      params,
    );
    const raw = plan[0]['QUERY PLAN'];
    const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [{ Plan: { 'Plan Rows': number } }];
    const estimate = parsed[0].Plan['Plan Rows'];
    if (estimate > threshold) {
      return { total: estimate, estimated: true };
    }
  }
  const rows = await reads.query<{ n: number }[]>(`SELECT count(*)::int AS n ${from}`, params, prepare);
  return { total: rows[0].n, estimated: false };
}

/** The query of one list request as its links write it: each parameter percent-encoded once. */
interface LinkTemplate {
  path: string;
  /** The `self` link. */
  self: string;
  /** A page link without its `page=<n>`: the link up to it (`?` or `&` included), and after it. */
  page: readonly [string, string];
  /** The same for a cursor link's `after=<cursor>`. */
  after: readonly [string, string];
}

/** The options every link is encoded with (`qs`'s, parameter by parameter). */
const ENCODING = { arrayFormat: 'comma' } as const;
/** Text `qs` leaves as it is (RFC 3986's unreserved characters). */
const UNRESERVED = /^[A-Za-z0-9_.~-]*$/;
/** Links of the request URLs seen last: a client paging through a list asks the same URLs again. */
const templates = new Map<string, LinkTemplate>();
const MAX_TEMPLATES = 500;
/** Longer URLs are not kept: 500 of them could hold megabytes. */
const MAX_CACHED_URL = 2048;

/** How many request URLs' links are kept (for tests of the bound). */
export function cachedLinkTemplates(): number {
  return templates.size;
}

/**
 * `<parts before>&<slot>&<parts after>` split around `slot`'s place in the query (at the end when the query
 * has none), with `drop` left out: the parameters the links of one kind replace.
 */
function around(
  path: string,
  parts: readonly (readonly [string, string])[],
  slot: string,
  drop: string,
): readonly [string, string] {
  const at = parts.findIndex(([key]) => key === slot);
  const text = (from: number, to: number): string =>
    parts
      .slice(from, to)
      .filter(([key, encoded]) => key !== drop && encoded !== '')
      .map(([, encoded]) => encoded)
      .join('&');
  const head = text(0, at < 0 ? parts.length : at);
  const tail = at < 0 ? '' : text(at + 1, parts.length);
  return [`${path}?${head}${head ? '&' : ''}`, tail ? `&${tail}` : ''];
}

/**
 * The links' template of a request. `qs.stringify` of a whole object is its keys' encodings joined by `&`
 * in key order (skipping empty ones), so encoding each parameter alone gives the same text; a link then
 * only writes its `page` or `after`, where `{ ...query, page }` would have put it.
 */
function linkTemplate(request: ListRequest): LinkTemplate {
  const cacheable = request.url !== undefined && request.url.length <= MAX_CACHED_URL;
  const cached = cacheable ? templates.get(request.url!) : undefined;
  if (cached && cached.path === request.path) {
    return cached;
  }
  const { path, query } = request;
  const parts = Object.keys(query).map(
    (key) => [key, qs.stringify({ [key]: query[key] }, ENCODING)] as const,
  );
  const search = parts
    .map(([, encoded]) => encoded)
    .filter((encoded) => encoded !== '')
    .join('&');
  const template: LinkTemplate = {
    path,
    self: search ? `${path}?${search}` : path,
    page: around(path, parts, 'page', 'after'),
    after: around(path, parts, 'after', 'page'),
  };
  if (cacheable) {
    if (templates.size >= MAX_TEMPLATES) {
      templates.clear();
    }
    templates.set(request.url!, template);
  }
  return template;
}

/** `key=value` as `qs` encodes it. */
function parameter(key: string, value: string): string {
  return UNRESERVED.test(value) ? `${key}=${value}` : qs.stringify({ [key]: value }, ENCODING);
}

/** `self`, `next` and `prev` of a page: by page number with `page=`, by cursor otherwise. */
export function pageLinks(
  request: ListRequest,
  page: number | null,
  more: boolean,
  nextCursor: string | null,
): ListResult['links'] {
  // Fully percent-encoded (brackets too), so each link is a valid URI reference; repeated list
  // parameters come back in the documented comma form (qs's `arrayFormat: 'comma'`).
  const template = linkTemplate(request);
  const pageLink = (n: number): string => template.page[0] + parameter('page', String(n)) + template.page[1];
  return {
    self: template.self,
    next:
      page !== null
        ? more
          ? pageLink(page + 1)
          : null
        : nextCursor
          ? template.after[0] + parameter('after', nextCursor) + template.after[1]
          : null,
    prev: page !== null && page > 1 ? pageLink(page - 1) : null,
  };
}
