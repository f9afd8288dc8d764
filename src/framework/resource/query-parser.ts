import {
  DATE_RE,
  DECIMAL_RE,
  INTEGER_RANGES,
  INTEGER_RE,
  UUID_RE,
  canonicalDecimal,
  compareDecimals,
  isCalendarDate,
  validDateText,
} from 'src/framework/fields/formats';
import type { FieldType } from 'src/framework/fields/field-rules';
import { PROBLEM_TYPES, ProblemException, ProblemFieldError } from 'src/framework/http/problem';
import { MAX_LISTED_ERRORS } from 'src/framework/http/validation';
import {
  FILTER_OPERATORS,
  FieldSpec,
  FilterOperator,
  FilterTerm,
  ListQuery,
  ResourceQuerySpec,
  SortTerm,
  TRASHED_VALUES,
  Trashed,
} from 'src/framework/resource/query-types';

/**
 * The query parameters a list endpoint accepts (docs/architecture.md §4); anything else is a 400. `q` needs
 * search fields and `trashed` soft delete.
 */
export const LIST_QUERY_PARAMETERS = [
  'page',
  'limit',
  'after',
  'sort',
  'filter',
  'q',
  'fields',
  'include',
  'trashed',
] as const;

/** Longest filter value (or list item) accepted, in characters. */
export const MAX_VALUE_LENGTH = 1000;
/** Items an `in`/`nin` list may hold. */
export const MAX_LIST_ITEMS = 100;
export const MAX_SEARCH_LENGTH = 200;
/** `include=items.product` is depth 2; deeper paths are refused. */
const MAX_INCLUDE_DEPTH = 2;
/** A cursor is server-made; anything longer than this is not one of ours. */
export const MAX_CURSOR_LENGTH = 8192;

const NUMBER_RE = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
// An unencoded `+` in an offset arrives as a space (form encoding); it cannot mean anything else there.
const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([-+ ])(\d{2}):?(\d{2})))?$/i;
const CURSOR_RE = /^[A-Za-z0-9_-]+$/;

const INT8 = INTEGER_RANGES.int64;

const KNOWN_OPERATORS: ReadonlySet<string> = new Set<string>(FILTER_OPERATORS);
const LIST_OPERATORS: ReadonlySet<FilterOperator> = new Set<FilterOperator>(['in', 'nin', 'between']);

/** The parameters this resource's list accepts, for messages. */
function allowedParameters(spec: ResourceQuerySpec): string {
  return LIST_QUERY_PARAMETERS.filter(
    (p) => (p !== 'q' || spec.searchable) && (p !== 'trashed' || spec.softDelete === true),
  ).join(', ');
}

const STRING_OPERATORS: readonly FilterOperator[] = [
  'eq',
  'ne',
  'in',
  'nin',
  'contains',
  'icontains',
  'startswith',
  'isnull',
];
const ORDERED_OPERATORS: readonly FilterOperator[] = [
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'nin',
  'between',
  'isnull',
];
const BOOLEAN_OPERATORS: readonly FilterOperator[] = ['eq', 'ne', 'isnull'];
const EQUALITY_OPERATORS: readonly FilterOperator[] = ['eq', 'ne', 'in', 'nin', 'isnull'];
const JSON_OPERATORS: readonly FilterOperator[] = ['isnull'];

/**
 * The operators a field of this type accepts by default (a fresh array; the spec builder may narrow it).
 * `isnull` only makes sense on a nullable field: pass `nullable: false` to leave it out.
 * Example: `new Set(defaultOperators(field.type, field.nullable))`.
 */
export function defaultOperators(type: FieldType, nullable = true): FilterOperator[] {
  let operators: readonly FilterOperator[];
  switch (type) {
    case 'string':
    case 'text':
      operators = STRING_OPERATORS;
      break;
    case 'integer':
    case 'bigint':
    case 'number':
    case 'decimal':
    case 'date':
    case 'datetime':
      operators = ORDERED_OPERATORS;
      break;
    case 'boolean':
      operators = BOOLEAN_OPERATORS;
      break;
    case 'enum':
    case 'uuid':
      operators = EQUALITY_OPERATORS;
      break;
    case 'json':
      operators = JSON_OPERATORS;
      break;
  }
  return nullable ? [...operators] : operators.filter((op) => op !== 'isnull');
}

/** JSON.stringify replacer: bigint row values (not JSON-serialisable) travel as decimal strings. */
function cursorReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * The opaque `after` cursor for a row: its sort values in sort order, id last. Dates become ISO strings.
 * Example: `encodeCursor([row.createdAt, row.id])` for `sort=-createdAt` (→ `meta.nextCursor`).
 */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values, cursorReplacer), 'utf8').toString('base64url');
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

/**
 * Validates and types a list request's query (as `qs` parsed it with `depth: 3`) against the resource's
 * allow-lists. Throws a 400 `ProblemException` (type `PROBLEM_TYPES.badQuery`) listing every problem found.
 * Example: `parseListQuery({ filter: { price: { gte: '10' } }, sort: '-price' }, productSpec)`.
 */
export function parseListQuery(query: Record<string, unknown>, spec: ResourceQuerySpec): ListQuery {
  const errors: ProblemFieldError[] = [];
  let pageRaw: unknown;
  let limitRaw: unknown;
  let afterRaw: unknown;
  let sortRaw: unknown;
  let filterRaw: unknown;
  let qRaw: unknown;
  let fieldsRaw: unknown;
  let includeRaw: unknown;
  let trashedRaw: unknown;

  for (const key of Object.keys(query)) {
    const value = query[key];
    switch (key) {
      case 'page':
        pageRaw = value;
        break;
      case 'limit':
        limitRaw = value;
        break;
      case 'after':
        afterRaw = value;
        break;
      case 'sort':
        sortRaw = value;
        break;
      case 'filter':
        filterRaw = value;
        break;
      case 'q':
        qRaw = value;
        break;
      case 'fields':
        fieldsRaw = value;
        break;
      case 'include':
        includeRaw = value;
        break;
      case 'trashed':
        trashedRaw = value;
        break;
      default:
        if (value !== undefined) {
          errors.push({
            parameter: key,
            code: 'unknown',
            message: `Unknown query parameter "${key}"; allowed: ${allowedParameters(spec)}`,
          });
        }
    }
  }

  const pageText = scalar('page', pageRaw, errors);
  const limitText = scalar('limit', limitRaw, errors);
  const afterText = scalar('after', afterRaw, errors);

  let page: number | undefined;
  if (pageText !== undefined) {
    page = parsePositiveInteger('page', pageText, errors);
    if (afterText !== undefined) {
      errors.push({
        parameter: 'page',
        code: 'invalid',
        message: 'page and after cannot be combined; paginate by page or by cursor',
      });
    }
  } else if (afterText === undefined) {
    page = 1;
  }

  const maxLimit = spec.maxLimit;
  let limit = spec.defaultLimit < maxLimit ? spec.defaultLimit : maxLimit;
  if (limitText !== undefined) {
    // Unsafe (huge) integers are still above maxLimit: clamped like any other.
    const requested = parsePositiveInteger('limit', limitText, errors, false);
    if (requested !== undefined) {
      limit = requested > maxLimit ? maxLimit : requested;
    }
  }

  const errorsBeforeSort = errors.length;
  const sort = parseSort(listText('sort', sortRaw, errors), spec, errors);
  const sortValid = errors.length === errorsBeforeSort;

  let after: unknown[] | undefined;
  if (afterText !== undefined) {
    after = parseAfter(afterText, sort, sortValid, spec, errors);
  }

  const filters = filterRaw === undefined ? [] : parseFilters(filterRaw, spec, errors);

  let q: string | undefined;
  if (qRaw !== undefined) {
    if (!spec.searchable) {
      errors.push({
        parameter: 'q',
        code: 'unknown',
        message: `${spec.name} has no search fields, so q is not accepted; allowed: ${allowedParameters(spec)}`,
      });
    } else {
      const text = scalar('q', qRaw, errors);
      if (text !== undefined) {
        q = text.trim();
        if (q.length === 0 || q.length > MAX_SEARCH_LENGTH) {
          errors.push({
            parameter: 'q',
            code: 'range',
            message: `q must be 1 to ${MAX_SEARCH_LENGTH} characters long (got ${q.length})`,
          });
          q = undefined;
        }
      }
    }
  }

  const fields = parseFields(listText('fields', fieldsRaw, errors), spec, errors);
  const include = parseInclude(listText('include', includeRaw, errors), spec, errors);
  const trashed = trashedRaw === undefined ? undefined : parseTrashed(trashedRaw, spec, errors);

  if (errors.length > 0) {
    throw badQuery(errors);
  }
  const result: ListQuery = { limit, sort, filters, include };
  if (page !== undefined) {
    result.page = page;
  }
  if (after !== undefined) {
    result.after = after;
  }
  if (q !== undefined) {
    result.q = q;
  }
  if (fields !== undefined) {
    result.fields = fields;
  }
  if (trashed !== undefined) {
    result.trashed = trashed;
  }
  return result;
}

/** `trashed=only|with`, on resources with soft delete. */
function parseTrashed(
  raw: unknown,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): Trashed | undefined {
  if (!spec.softDelete) {
    errors.push({
      parameter: 'trashed',
      code: 'unknown',
      message: `${spec.name} has no soft delete, so trashed is not accepted; allowed: ${allowedParameters(spec)}`,
    });
    return undefined;
  }
  const text = scalar('trashed', raw, errors);
  if (text === undefined) {
    return undefined;
  }
  if (!(TRASHED_VALUES as readonly string[]).includes(text)) {
    errors.push({
      parameter: 'trashed',
      code: 'invalid',
      message: `trashed must be "only" (deleted rows) or "with" (all rows), got ${quote(text)}`,
    });
    return undefined;
  }
  return text as Trashed;
}

/** Parameters a bad query's detail spells out; the rest are counted (a 200-parameter query stays readable). */
const MAX_DETAILED = 10;

/** The 400 problem for a list of parameter errors; the detail names the parameters as written. */
function badQuery(errors: ProblemFieldError[]): ProblemException {
  let detail = '';
  for (let i = 0; i < errors.length && i < MAX_DETAILED; i++) {
    detail += `${i === 0 ? '' : ' | '}${errors[i].parameter}: ${errors[i].message}`;
  }
  if (errors.length > MAX_DETAILED) {
    detail += ` | and ${errors.length - MAX_DETAILED} more`;
  }
  return new ProblemException({
    type: PROBLEM_TYPES.badQuery,
    title: 'Bad request parameters',
    status: 400,
    detail,
    errors: errors.slice(0, MAX_LISTED_ERRORS),
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Non-empty text items: a list parameter repeated (`sort=a&sort=b`) rather than comma-separated. */
function isTextList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v !== '');
}

/**
 * A list parameter's text (`sort`, `fields`, `include`): comma-separated as documented, or repeated, the
 * exploded form that clients such as openapi-fetch send for arrays by default; both mean the same list.
 */
function listText(name: string, value: unknown, errors: ProblemFieldError[]): string | undefined {
  return isTextList(value) ? value.join(',') : scalar(name, value, errors);
}

/** A top-level parameter's single text value; repeated (`a=1&a=2`) or nested (`a[b]=1`) ones are errors. */
function scalar(name: string, value: unknown, errors: ProblemFieldError[]): string | undefined {
  if (value === undefined || typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    return String(value);
  }
  errors.push({
    parameter: name,
    code: 'invalid',
    message: Array.isArray(value)
      ? `${name} is given more than once; give it once (lists are comma-separated)`
      : `${name} takes a single value, not ${name}[…]`,
  });
  return undefined;
}

/** `page`/`limit`: an integer ≥ 1. With `safe`, integers beyond 2^53 are refused rather than returned. */
function parsePositiveInteger(
  name: string,
  text: string,
  errors: ProblemFieldError[],
  safe = true,
): number | undefined {
  if (!INTEGER_RE.test(text)) {
    errors.push({ parameter: name, code: 'type', message: `${name} must be an integer, got ${quote(text)}` });
    return undefined;
  }
  const value = Number(text);
  if (value < 1 || (safe && !Number.isSafeInteger(value))) {
    errors.push({
      parameter: name,
      code: 'range',
      message: `${name} must be a whole number of at least 1${safe ? '' : ' (larger ones are clamped)'}, got ${quote(text)}`,
    });
    return undefined;
  }
  return value;
}

/** A client-supplied value for a message: quoted, and cut short so a problem never echoes kilobytes. */
function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

function listOf(keys: Iterable<string>): string {
  return [...keys].join(', ');
}

/** The field behind a sort path: the id is always sortable (it is every sort's tie-breaker). */
function sortField(path: string, spec: ResourceQuerySpec): FieldSpec | undefined {
  return path === spec.idPath ? spec.idField : spec.sortable.get(path);
}

function parseSort(
  text: string | undefined,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): SortTerm[] {
  const sort: SortTerm[] = [];
  if (text === undefined || text === '') {
    for (const term of spec.defaultSort) {
      sort.push({ path: term.path, direction: term.direction });
    }
  } else {
    for (const segment of text.split(',')) {
      const descending = segment.startsWith('-');
      const path = descending ? segment.slice(1) : segment;
      if (path === '') {
        errors.push({
          parameter: 'sort',
          code: 'invalid',
          message: 'sort has an empty term; write sort=-createdAt,name',
        });
        continue;
      }
      if (sortField(path, spec) === undefined) {
        const sortable = spec.sortable.has(spec.idPath)
          ? listOf(spec.sortable.keys())
          : listOf([...spec.sortable.keys(), spec.idPath]);
        errors.push({
          parameter: 'sort',
          code: 'unknown',
          message: `Unknown sort field ${quote(path)} on ${spec.name}; sortable: ${sortable}`,
        });
        continue;
      }
      if (sort.some((term) => term.path === path)) {
        errors.push({
          parameter: 'sort',
          code: 'invalid',
          message: `sort names ${quote(path)} more than once`,
        });
        continue;
      }
      sort.push({ path, direction: descending ? 'desc' : 'asc' });
    }
  }
  if (!sort.some((term) => term.path === spec.idPath)) {
    sort.push({ path: spec.idPath, direction: sort.length > 0 ? sort[sort.length - 1].direction : 'asc' });
  }
  return sort;
}

function parseAfter(
  text: string,
  sort: readonly SortTerm[],
  sortValid: boolean,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): unknown[] | undefined {
  const values = decodeCursor(text);
  if (values === undefined) {
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
      if (typeof value === 'number') {
        return Number.isFinite(value) ? value : INVALID;
      }
      break;
    case 'bigint':
    case 'decimal':
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

const INVALID: unique symbol = Symbol('invalid');
const OUT_OF_RANGE: unique symbol = Symbol('out of range');

/** A query-string value typed as the column: the coerced value, INVALID or OUT_OF_RANGE. */
function coerce(field: FieldSpec, raw: string): unknown {
  switch (field.type) {
    case 'string':
    case 'text':
      return raw;
    case 'integer': {
      if (!INTEGER_RE.test(raw)) {
        return INVALID;
      }
      const value = Number(raw);
      return Number.isSafeInteger(value) ? value + 0 : OUT_OF_RANGE; // + 0 turns -0 into 0
    }
    case 'bigint': {
      if (!INTEGER_RE.test(raw)) {
        return INVALID;
      }
      const value = BigInt(raw);
      return value < INT8.minimum || value > INT8.maximum ? OUT_OF_RANGE : value.toString();
    }
    case 'number': {
      if (!NUMBER_RE.test(raw)) {
        return INVALID;
      }
      const value = Number(raw);
      return Number.isFinite(value) ? value + 0 : OUT_OF_RANGE;
    }
    case 'decimal':
      return DECIMAL_RE.test(raw) ? canonicalDecimal(raw) : INVALID;
    case 'boolean':
      return parseBoolean(raw);
    case 'date':
      return DATE_RE.test(raw) && validDateText(raw) ? raw : INVALID;
    case 'datetime':
      return parseDatetime(raw) ?? INVALID;
    case 'uuid':
      return UUID_RE.test(raw) ? raw.toLowerCase() : INVALID;
    case 'enum':
      return field.enumValues !== undefined && field.enumValues.includes(raw) ? raw : INVALID;
    case 'json':
      return INVALID;
  }
}

function parseBoolean(raw: string): boolean | typeof INVALID {
  switch (raw) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      return INVALID;
  }
}

/** ISO 8601 with a timezone (`2024-05-01T12:00:00.5+02:00`), or a bare date (UTC midnight). */
function parseDatetime(raw: string): Date | undefined {
  const m = DATETIME_RE.exec(raw);
  if (m === null) {
    return undefined;
  }
  const year = +m[1];
  const month = +m[2];
  const day = +m[3];
  if (!isCalendarDate(year, month, day)) {
    return undefined;
  }
  const hour = m[4] === undefined ? 0 : +m[4];
  const minute = m[5] === undefined ? 0 : +m[5];
  const second = m[6] === undefined ? 0 : +m[6];
  const millis = m[7] === undefined ? 0 : +m[7].padEnd(3, '0').slice(0, 3);
  if (hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (m[8] !== undefined) {
    const offsetHours = +m[9];
    const offsetMins = +m[10];
    if (offsetHours > 23 || offsetMins > 59) {
      return undefined;
    }
    offsetMinutes = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis));
  if (year < 100) {
    date.setUTCFullYear(year); // Date.UTC maps years 0–99 to 1900–1999
  }
  if (offsetMinutes !== 0) {
    date.setTime(date.getTime() - offsetMinutes * 60_000);
  }
  return date;
}

/** What a value of this field looks like, for messages. */
function expected(field: FieldSpec): string {
  switch (field.type) {
    case 'integer':
    case 'bigint':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'decimal':
      return 'a decimal number such as 12.50';
    case 'boolean':
      return 'true, false, 1 or 0';
    case 'date':
      return 'a date YYYY-MM-DD';
    case 'datetime':
      return 'an ISO 8601 date-time with a timezone (2024-05-01T12:00:00Z) or a date YYYY-MM-DD';
    case 'uuid':
      return 'a UUID';
    case 'enum':
      return `one of: ${listOf(field.enumValues ?? [])}`;
    case 'json':
      return 'not comparable (JSON)';
    case 'string':
    case 'text':
      return 'text';
  }
}

/** Orders two coerced values of an ordered type; undefined when the type has no client-visible order. */
function compareValues(type: FieldType, a: unknown, b: unknown): number | undefined {
  switch (type) {
    case 'integer':
    case 'number':
      return (a as number) - (b as number);
    case 'bigint': {
      const x = BigInt(a as string);
      const y = BigInt(b as string);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'decimal':
      return compareDecimals(a as string, b as string);
    case 'date':
      return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case 'datetime':
      return (a as Date).getTime() - (b as Date).getTime();
    default:
      return undefined; // strings compare by database collation; enums by declaration order
  }
}

/** How the client wrote a filter parameter: `filter[price]` or `filter[price][gte]`. */
function filterParameter(path: string, op?: string): string {
  return op === undefined ? `filter[${path}]` : `filter[${path}][${op}]`;
}

function parseFilters(raw: unknown, spec: ResourceQuerySpec, errors: ProblemFieldError[]): FilterTerm[] {
  const filters: FilterTerm[] = [];
  if (!isRecord(raw)) {
    errors.push({
      parameter: 'filter',
      code: 'invalid',
      message: 'filter must be written filter[field]=value or filter[field][operator]=value',
    });
    return filters;
  }
  for (const path of Object.keys(raw)) {
    const value = raw[path];
    if (value === undefined) {
      continue;
    }
    const entry = spec.filterable.get(path);
    if (entry === undefined) {
      errors.push(unknownFilterField(path, value, spec));
      continue;
    }
    if (typeof value === 'string') {
      addFilter(filters, entry, path, 'eq', undefined, value, errors);
    } else if (Array.isArray(value)) {
      errors.push({
        parameter: filterParameter(path),
        code: 'invalid',
        message: `filter[${path}] is given more than once; give each filter once (in takes a comma-separated list)`,
      });
    } else if (isRecord(value)) {
      for (const op of Object.keys(value)) {
        const operand = value[op];
        if (!KNOWN_OPERATORS.has(op)) {
          errors.push({
            parameter: filterParameter(path, op),
            code: 'operator',
            message: `Unknown operator ${quote(op)} on ${path}; allowed: ${listOf(allowedOperators(entry))}`,
          });
        } else if (typeof operand === 'string') {
          addFilter(filters, entry, path, op as FilterOperator, op, operand, errors);
        } else if (LIST_OPERATORS.has(op as FilterOperator) && isTextList(operand)) {
          addFilter(filters, entry, path, op as FilterOperator, op, operand.join(','), errors);
        } else if (operand !== undefined) {
          errors.push({
            parameter: filterParameter(path, op),
            code: 'invalid',
            message: Array.isArray(operand)
              ? `filter[${path}][${op}] is given more than once; give it once${LIST_OPERATORS.has(op as FilterOperator) ? ' with a comma-separated list' : ''}`
              : `filter[${path}][${op}] takes a single value; filters nest no deeper than filter[field][operator]`,
          });
        }
      }
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      addFilter(filters, entry, path, 'eq', undefined, String(value), errors); // a programmatic caller
    } else {
      errors.push({
        parameter: filterParameter(path),
        code: 'invalid',
        message: `filter[${path}] has no value`,
      });
    }
  }
  return filters;
}

function unknownFilterField(path: string, value: unknown, spec: ResourceQuerySpec): ProblemFieldError {
  let hint = '';
  // `filter[category][slug]=x` is the nested spelling of the relation path `filter[category.slug]=x`.
  if (isRecord(value)) {
    for (const key of Object.keys(value)) {
      if (spec.filterable.has(`${path}.${key}`)) {
        hint = ` (write filter[${path}.${key}] for a relation path)`;
        break;
      }
    }
  }
  return {
    parameter: filterParameter(path),
    code: 'unknown',
    message: `Unknown filter field ${quote(path)} on ${spec.name}; filterable: ${listOf(spec.filterable.keys())}${hint}`,
  };
}

/** The operators a filter field really accepts: its declared set, less those its type or nullability rule out. */
function allowedOperators(entry: {
  field: FieldSpec;
  operators: ReadonlySet<FilterOperator>;
}): FilterOperator[] {
  const allowed: FilterOperator[] = [];
  for (const op of entry.operators) {
    if (operatorFits(entry.field, op)) {
      allowed.push(op);
    }
  }
  return allowed;
}

function operatorFits(field: FieldSpec, op: FilterOperator): boolean {
  switch (op) {
    case 'isnull':
      return field.nullable;
    case 'contains':
    case 'icontains':
    case 'startswith':
      return field.type === 'string' || field.type === 'text';
    default:
      return field.type !== 'json';
  }
}

function addFilter(
  filters: FilterTerm[],
  entry: { field: FieldSpec; operators: ReadonlySet<FilterOperator> },
  path: string,
  op: FilterOperator,
  writtenOp: string | undefined,
  raw: string,
  errors: ProblemFieldError[],
): void {
  const field = entry.field;
  if (!entry.operators.has(op) || !operatorFits(field, op)) {
    errors.push({
      parameter: filterParameter(path, writtenOp),
      code: 'operator',
      message: `Operator ${op} is not allowed on ${path} (${field.type}${field.nullable ? ', nullable' : ''}); allowed: ${listOf(allowedOperators(entry)) || 'none'}`,
    });
    return;
  }
  let value: unknown;
  switch (op) {
    case 'isnull':
      value = parseBoolean(raw);
      if (value === INVALID) {
        errors.push({
          parameter: filterParameter(path, writtenOp),
          code: 'type',
          message: `isnull takes true, false, 1 or 0, got ${quote(raw)}`,
        });
        return;
      }
      break;
    case 'in':
    case 'nin': {
      const items: unknown[] = raw === '' ? [] : raw.split(',', MAX_LIST_ITEMS + 1);
      if (items.length === 0 || items.length > MAX_LIST_ITEMS) {
        errors.push({
          parameter: filterParameter(path, writtenOp),
          code: 'range',
          message: `${op} takes 1 to ${MAX_LIST_ITEMS} comma-separated values${items.length === 0 ? '' : ', got more'}`,
        });
        return;
      }
      for (let i = 0; i < items.length; i++) {
        const item = coerceItem(field, path, writtenOp, items[i] as string, errors);
        if (typeof item === 'symbol') {
          return;
        }
        items[i] = item; // the split array is reused for the coerced values
      }
      value = items;
      break;
    }
    case 'between': {
      const items = raw.split(',', 3);
      if (items.length !== 2) {
        errors.push({
          parameter: filterParameter(path, writtenOp),
          code: 'invalid',
          message: `between takes exactly two comma-separated values (lower,upper), got ${quote(raw)}`,
        });
        return;
      }
      const lower = coerceItem(field, path, writtenOp, items[0], errors);
      const upper = coerceItem(field, path, writtenOp, items[1], errors);
      if (typeof lower === 'symbol' || typeof upper === 'symbol') {
        return;
      }
      const order = compareValues(field.type, lower, upper);
      if (order !== undefined && order > 0) {
        errors.push({
          parameter: filterParameter(path, writtenOp),
          code: 'range',
          message: `between needs lower ≤ upper, got ${quote(raw)}`,
        });
        return;
      }
      value = [lower, upper];
      break;
    }
    case 'contains':
    case 'icontains':
    case 'startswith':
      if (raw === '') {
        errors.push({
          parameter: filterParameter(path, writtenOp),
          code: 'range',
          message: `${op} needs a non-empty value`,
        });
        return;
      }
      value = coerceOperand(field, path, writtenOp, raw, errors);
      break;
    default:
      value = coerceOperand(field, path, writtenOp, raw, errors);
      break;
  }
  if (typeof value !== 'symbol') {
    filters.push({ path, op, value });
  }
}

/** One item of an `in`/`nin`/`between` list: like a single value, but never empty (`a,,b` is a mistake). */
function coerceItem(
  field: FieldSpec,
  path: string,
  writtenOp: string | undefined,
  raw: string,
  errors: ProblemFieldError[],
): unknown {
  if (raw === '') {
    errors.push({
      parameter: filterParameter(path, writtenOp),
      code: 'invalid',
      message: `${writtenOp ?? 'eq'} has an empty item in its comma-separated list`,
    });
    return INVALID;
  }
  return coerceOperand(field, path, writtenOp, raw, errors);
}

/** One filter value (or list item) coerced to the field type; records the error and returns INVALID on failure. */
function coerceOperand(
  field: FieldSpec,
  path: string,
  writtenOp: string | undefined,
  raw: string,
  errors: ProblemFieldError[],
): unknown {
  if (raw.length > MAX_VALUE_LENGTH) {
    errors.push({
      parameter: filterParameter(path, writtenOp),
      code: 'range',
      message: `Values are limited to ${MAX_VALUE_LENGTH} characters (got ${raw.length})`,
    });
    return INVALID;
  }
  const value = coerce(field, raw);
  if (value === INVALID) {
    errors.push({
      parameter: filterParameter(path, writtenOp),
      code: 'type',
      message: `${quote(raw)} is not valid for ${path}: expected ${expected(field)}`,
    });
  } else if (value === OUT_OF_RANGE) {
    errors.push({
      parameter: filterParameter(path, writtenOp),
      code: 'range',
      message: `${quote(raw)} is out of range for ${path} (${field.type})`,
    });
    return INVALID;
  }
  return value;
}

function parseFields(
  text: string | undefined,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): string[] | undefined {
  if (text === undefined || text === '') {
    return undefined;
  }
  const fields = [spec.idPath];
  for (const path of text.split(',')) {
    if (path === '') {
      errors.push({
        parameter: 'fields',
        code: 'invalid',
        message: 'fields has an empty entry; write fields=id,name',
      });
    } else if (path !== spec.idPath && !spec.selectable.has(path)) {
      errors.push({
        parameter: 'fields',
        code: 'unknown',
        message: `Unknown field ${quote(path)} on ${spec.name}; selectable: ${listOf(spec.selectable.keys())}`,
      });
    } else if (!fields.includes(path)) {
      fields.push(path);
    }
  }
  return fields;
}

function parseInclude(
  text: string | undefined,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): string[] {
  const include: string[] = [];
  if (text === undefined || text === '') {
    return include;
  }
  for (const path of text.split(',')) {
    if (path === '') {
      errors.push({
        parameter: 'include',
        code: 'invalid',
        message: 'include has an empty entry; write include=category,items.product',
      });
    } else if (depthOf(path) > MAX_INCLUDE_DEPTH) {
      errors.push({
        parameter: 'include',
        code: 'range',
        message: `include ${quote(path)} is nested too deeply (at most ${MAX_INCLUDE_DEPTH} levels, like items.product)`,
      });
    } else if (!spec.includable.has(path)) {
      errors.push({
        parameter: 'include',
        code: 'unknown',
        message: `Unknown include ${quote(path)} on ${spec.name}; includable: ${listOf(spec.includable)}`,
      });
    } else if (!include.includes(path)) {
      include.push(path);
    }
  }
  return include;
}

function depthOf(path: string): number {
  let depth = 1;
  for (let i = path.indexOf('.'); i >= 0; i = path.indexOf('.', i + 1)) {
    depth++;
  }
  return depth;
}
