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

/** `self`, `next` and `prev` of a page: by page number with `page=`, by cursor otherwise. */
export function pageLinks(
  request: ListRequest,
  page: number | null,
  more: boolean,
  nextCursor: string | null,
): ListResult['links'] {
  const link = (changes: Record<string, unknown>): string => {
    const merged: Record<string, unknown> = { ...request.query, ...changes };
    for (const key of Object.keys(merged)) {
      if (merged[key] === undefined) {
        delete merged[key];
      }
    }
    // Fully percent-encoded (brackets too), so each link is a valid URI reference; repeated list
    // parameters come back in the documented comma form.
    const search = qs.stringify(merged, { arrayFormat: 'comma' });
    return search ? `${request.path}?${search}` : request.path;
  };
  return {
    self: link({}),
    next:
      page !== null
        ? more
          ? link({ page: page + 1, after: undefined })
          : null
        : nextCursor
          ? link({ after: nextCursor, page: undefined })
          : null,
    prev: page !== null && page > 1 ? link({ page: page - 1, after: undefined }) : null,
  };
}
