import type { AdminResource } from '../schema';
import { toText } from '../text';

/**
 * Filter keys in the UI: `q`, `status` (equality), `price@gte` (an operator). react-admin nests dotted
 * sources (`category.slug` → `{ category: { slug } }`), so nested objects are flattened back into paths.
 */
export const OP = '@';

export interface ListQuery {
  page?: number;
  perPage?: number;
  sort?: { field: string; order: string };
  filter?: Record<string, unknown>;
  trashed?: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function flatten(filter: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(filter).flatMap(([key, value]) =>
    isPlainObject(value)
      ? flatten(value, `${prefix}${key}.`)
      : [[`${prefix}${key}`, value] as [string, unknown]],
  );
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A date-range bound on a timestamp: the whole local day, so "until 2024-05-31" includes that day. */
function dayBound(value: string, op: string): string {
  const [, y, m, d] = DAY.exec(value)!;
  const day = new Date(Number(y), Number(m) - 1, Number(d));
  if (op === 'lte' || op === 'lt') {
    day.setDate(day.getDate() + 1);
    return new Date(day.getTime() - (op === 'lte' ? 1 : 0)).toISOString();
  }
  return day.toISOString();
}

function serialize(value: unknown, op: string | undefined, type: string | undefined): string {
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (Array.isArray(value)) {
    return value.map((v) => serialize(v, undefined, type)).join(',');
  }
  if (typeof value === 'string' && type === 'datetime' && op !== undefined && DAY.test(value)) {
    return dayBound(value, op);
  }
  return toText(value);
}

/** react-admin's list parameters as the REST query language (README "Resources"). */
export function listQuery(resource: AdminResource | undefined, params: ListQuery): URLSearchParams {
  const query = new URLSearchParams();
  if (params.page !== undefined && params.perPage !== undefined) {
    query.set('page', String(params.page));
    query.set('limit', String(params.perPage));
  }
  if (params.sort?.field) {
    const field = params.sort.field === 'id' && resource ? resource.primaryKey : params.sort.field;
    query.set('sort', `${params.sort.order === 'DESC' ? '-' : ''}${field}`);
  }
  for (const [key, value] of flatten(params.filter ?? {})) {
    if (
      value === undefined ||
      value === null ||
      value === '' ||
      (Array.isArray(value) && value.length === 0)
    ) {
      continue;
    }
    if (key === 'q') {
      query.set('q', toText(value));
      continue;
    }
    const [field, op] = key.split(OP);
    const type = resource?.listFilter.find((f) => f.field === field)?.type;
    if (op !== undefined) {
      query.set(`filter[${field}][${op}]`, serialize(value, op, type));
    } else if (Array.isArray(value)) {
      query.set(`filter[${field}][in]`, serialize(value, 'in', type));
    } else {
      query.set(`filter[${field}]`, serialize(value, undefined, type));
    }
  }
  if (params.trashed) {
    query.set('trashed', 'only');
  }
  return query;
}
