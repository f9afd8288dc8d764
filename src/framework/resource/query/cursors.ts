import type { ProblemFieldError } from 'src/framework/http/problem';
import type { FieldSpec, ResourceQuerySpec, SortTerm } from 'src/framework/resource/query-types';
import { sortField } from 'src/framework/resource/query/sort-fields-include';
import { INVALID, coerce, parseDatetime } from 'src/framework/resource/query/values';

/** A cursor is server-made; anything longer than this is not one of ours. */
export const MAX_CURSOR_LENGTH = 8192;

const CURSOR_RE = /^[A-Za-z0-9_-]+$/;

/**
 * The float values JSON has no spelling for (JSON.stringify writes null, which a cursor reads as SQL NULL), as
 * PostgreSQL spells them in float and numeric columns, where NaN sorts above every number.
 */
const NON_FINITE: ReadonlySet<unknown> = new Set(['NaN', 'Infinity', '-Infinity']);

/** JSON.stringify replacer: bigint row values (not JSON-serialisable) and NaN and ±Infinity travel as strings. */
function cursorReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : String(value);
  }
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * The sort a cursor is made for, as `sort=` spells it with the id that breaks ties: `-createdAt,-id`.
 * Example: `sortSignature(query.sort)`.
 */
export function sortSignature(sort: readonly SortTerm[]): string {
  return sort.map((term) => (term.direction === 'desc' ? `-${term.path}` : term.path)).join(',');
}

/**
 * The opaque `after` cursor for a row: the sort it was made for (`sortSignature`), then the row's sort values
 * in sort order, id last. Dates become ISO strings. The sort travels with it because a cursor's values read
 * under another sort of the same shape (`name` and `-name`, `name` and `sku`) select other rows.
 * Example: `encodeCursor('-createdAt,-id', [row.createdAt, row.id])` (→ `meta.nextCursor`).
 */
export function encodeCursor(signature: string, values: readonly unknown[]): string {
  return Buffer.from(JSON.stringify([signature, ...values], cursorReplacer), 'utf8').toString('base64url');
}

/**
 * An `after` cursor that names the row a page ended on by its id instead of carrying its sort values, made
 * when those would not fit in a URL (a long text sort key): the list reads the values back from the row.
 * Example: `query.after?.[0] instanceof CursorRow`.
 */
export class CursorRow {
  constructor(readonly id: unknown) {}
}

/**
 * The cursor of a row in a page (`meta.nextCursor`): its sort values, or, when they make a cursor longer than
 * {@link MAX_CURSOR_LENGTH}, its id (read back as a {@link CursorRow}).
 * Example: `rowCursor('name,id', [row.name, row.id], 1)`.
 */
export function rowCursor(signature: string, values: readonly unknown[], idIndex: number): string {
  const cursor = encodeCursor(signature, values);
  return cursor.length <= MAX_CURSOR_LENGTH ? cursor : encodeCursor(signature, [{ row: values[idIndex] }]);
}

/**
 * The raw values inside a cursor made by {@link encodeCursor}, or `undefined` when it is not one
 * (bad alphabet, non-canonical base64url, not JSON, not an array). No typing against a sort happens here;
 * {@link parseListQuery} does that for `after`.
 */
export function decodeCursor(cursor: string): unknown[] | undefined {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !CURSOR_RE.test(cursor)) {
    return undefined;
  }
  const bytes = Buffer.from(cursor, 'base64url');
  // Buffer decoding is lenient (ignores stray bits); only the canonical spelling of the bytes is ours.
  if (bytes.toString('base64url') !== cursor) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) ? parsed : undefined;
}

export function parseAfter(
  text: string,
  sort: readonly SortTerm[],
  sortValid: boolean,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): unknown[] | undefined {
  const decoded = decodeCursor(text);
  if (decoded === undefined || typeof decoded[0] !== 'string') {
    errors.push({
      parameter: 'after',
      code: 'invalid',
      message: 'after is not a valid cursor; pass meta.nextCursor from the previous page unchanged',
    });
    return undefined;
  }
  if (!sortValid) {
    return undefined; // the sort is already reported; a cursor cannot be checked against it
  }
  const signature = sortSignature(sort);
  if (decoded[0] !== signature) {
    errors.push({
      parameter: 'after',
      code: 'invalid',
      message: `after was made for another sort than ${signature}; keep the sort of the request that returned the cursor`,
    });
    return undefined;
  }
  const values = decoded.slice(1);
  const row = values.length === 1 ? rowOf(values[0]) : undefined;
  if (row !== undefined) {
    const id = cursorValue(spec.idField, row.id);
    if (typeof id === 'symbol' || id === null) {
      errors.push({ parameter: 'after', code: 'invalid', message: 'after names no valid row' });
      return undefined;
    }
    return [new CursorRow(id)];
  }
  if (values.length !== sort.length) {
    errors.push({
      parameter: 'after',
      code: 'invalid',
      message: `after does not match the sort (${sort.length} values expected, got ${values.length}); keep the sort of the request that returned the cursor`,
    });
    return undefined;
  }
  for (let i = 0; i < values.length; i++) {
    const value = cursorValue(sortField(sort[i].path, spec), values[i]);
    if (typeof value === 'symbol') {
      errors.push({
        parameter: 'after',
        code: 'invalid',
        message: `after does not match the sort: its value for ${sort[i].path} is not valid; keep the sort of the request that returned the cursor`,
      });
      return undefined;
    }
    values[i] = value;
  }
  return values;
}

/** The row a {@link rowCursor} names (`{"row": id}`), or undefined. */
function rowOf(value: unknown): { id: unknown } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return undefined;
  }
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'row' ? { id: (value as { row: unknown }).row } : undefined;
}

/** A cursor value typed like the sort column, or INVALID. Strings are not length-capped (they are row data). */
function cursorValue(field: FieldSpec | undefined, value: unknown): unknown {
  if (value === null) {
    return field === undefined || field.nullable ? null : INVALID;
  }
  if (field === undefined) {
    return typeof value === 'object' ? INVALID : value;
  }
  switch (field.type) {
    case 'json':
      return value;
    case 'boolean':
      return typeof value === 'boolean' ? value : INVALID;
    case 'integer':
      if (typeof value === 'number') {
        return Number.isSafeInteger(value) ? value : INVALID;
      }
      break;
    case 'number':
      if (typeof value === 'number' || NON_FINITE.has(value)) {
        return value; // PostgreSQL reads 'NaN' and '±Infinity' back as the float
      }
      break;
    case 'decimal':
    case 'bigint':
      if (NON_FINITE.has(value) && field.type === 'decimal') {
        return value; // numeric's own NaN and ±Infinity, which node-postgres reads as this text
      }
      if (typeof value === 'number') {
        return Number.isFinite(value) ? coerce(field, String(value)) : INVALID;
      }
      break;
    case 'datetime':
      // Cursors carry timestamps as ISO text with microseconds; a JS Date would round them to milliseconds.
      if (typeof value === 'string') {
        return parseDatetime(value) === undefined ? INVALID : value;
      }
      break;
    case 'date':
      // A date column read as a JS Date was encoded as a full ISO timestamp: keep its (UTC) calendar day.
      if (typeof value === 'string' && value.length > 10) {
        const instant = parseDatetime(value);
        return instant === undefined ? INVALID : instant.toISOString().slice(0, 10);
      }
      break;
    default:
      break;
  }
  return typeof value === 'string' ? coerce(field, value) : INVALID;
}
