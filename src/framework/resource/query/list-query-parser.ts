import { PROBLEM_TYPES, ProblemException, ProblemFieldError } from 'src/framework/http/problem';
import { MAX_LISTED_ERRORS } from 'src/framework/http/validation';
import { ListQuery, ResourceQuerySpec, TRASHED_VALUES, Trashed } from 'src/framework/resource/query-types';
import { parseAfter } from 'src/framework/resource/query/cursors';
import { parseFilters } from 'src/framework/resource/query/filters';
import { listText, quote, scalar } from 'src/framework/resource/query/raw-input';
import { parseFields, parseInclude, parseSort } from 'src/framework/resource/query/sort-fields-include';
import { INTEGER_RE } from 'src/framework/fields/formats';

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

/** Longest `q` accepted, in characters (after trimming). Example: `q=red shoes`. */
export const MAX_SEARCH_LENGTH = 200;

/** The parameters this resource's list accepts, for messages. */
function allowedParameters(spec: ResourceQuerySpec): string {
  return LIST_QUERY_PARAMETERS.filter(
    (p) => (p !== 'q' || spec.searchable) && (p !== 'trashed' || spec.softDelete === true),
  ).join(', ');
}

type ListQueryParameter = (typeof LIST_QUERY_PARAMETERS)[number];
const KNOWN_PARAMETERS: ReadonlySet<string> = new Set<string>(LIST_QUERY_PARAMETERS);

/** A list request's parameters as `qs` gave them, by name; not yet checked. */
type RawParameters = Partial<Record<ListQueryParameter, unknown>>;

/**
 * Validates and types a list request's query (as `qs` parsed it with `depth: 3`) against the resource's
 * allow-lists. Throws a 400 `ProblemException` (type `PROBLEM_TYPES.badQuery`) listing every problem found.
 * Example: `parseListQuery({ filter: { price: { gte: '10' } }, sort: '-price' }, productSpec)`.
 */
export function parseListQuery(query: Record<string, unknown>, spec: ResourceQuerySpec): ListQuery {
  // Every step records its problems and goes on, so one 400 lists them all, in parameter order.
  const errors: ProblemFieldError[] = [];
  const raw = readParameters(query, spec, errors);
  const { page, limit, afterText } = parsePaging(raw, spec, errors);
  const errorsBeforeSort = errors.length;
  const sort = parseSort(listText('sort', raw.sort, errors), spec, errors);
  const sortValid = errors.length === errorsBeforeSort;
  const after = afterText === undefined ? undefined : parseAfter(afterText, sort, sortValid, spec, errors);
  const filters = raw.filter === undefined ? [] : parseFilters(raw.filter, spec, errors);
  const q = raw.q === undefined ? undefined : parseSearch(raw.q, spec, errors);
  const fields = parseFields(listText('fields', raw.fields, errors), spec, errors);
  const include = parseInclude(listText('include', raw.include, errors), spec, errors);
  const trashed = raw.trashed === undefined ? undefined : parseTrashed(raw.trashed, spec, errors);
  if (errors.length > 0) {
    throw badQuery(errors);
  }
  // Absent options stay absent (not `undefined`): callers and tests compare whole queries. Set one by one
  // on the one object (spreading `{ page }`-style parts made an object per option and copied them).
  const parsed: ListQuery = { limit, sort, filters, include };
  if (page !== undefined) {
    parsed.page = page;
  }
  if (after !== undefined) {
    parsed.after = after;
  }
  if (q !== undefined) {
    parsed.q = q;
  }
  if (fields !== undefined) {
    parsed.fields = fields;
  }
  if (trashed !== undefined) {
    parsed.trashed = trashed;
  }
  return parsed;
}

/** The known parameters by name; each unknown one given a value is an error. */
function readParameters(
  query: Record<string, unknown>,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): RawParameters {
  const raw: RawParameters = {};
  for (const key of Object.keys(query)) {
    const value = query[key];
    if (KNOWN_PARAMETERS.has(key)) {
      raw[key as ListQueryParameter] = value;
    } else if (value !== undefined) {
      errors.push({
        parameter: key,
        code: 'unknown',
        message: `Unknown query parameter "${key}"; allowed: ${allowedParameters(spec)}`,
      });
    }
  }
  return raw;
}

/**
 * `page` (default 1 unless paginating by cursor), `limit` (clamped to the resource's maximum) and the
 * cursor's text; page and after exclude each other.
 */
function parsePaging(
  raw: RawParameters,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): { page?: number; limit: number; afterText?: string } {
  const pageText = scalar('page', raw.page, errors);
  const limitText = scalar('limit', raw.limit, errors);
  const afterText = scalar('after', raw.after, errors);

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
  return { page, limit, afterText };
}

/** The text of `q` or `trashed`, which only a resource with the feature behind it accepts. */
function featureText(
  name: 'q' | 'trashed',
  enabled: boolean,
  feature: string,
  raw: unknown,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): string | undefined {
  if (!enabled) {
    errors.push({
      parameter: name,
      code: 'unknown',
      message: `${spec.name} has no ${feature}, so ${name} is not accepted; allowed: ${allowedParameters(spec)}`,
    });
    return undefined;
  }
  return scalar(name, raw, errors);
}

/** `q`, on resources with search fields: trimmed, 1 to MAX_SEARCH_LENGTH characters. */
function parseSearch(raw: unknown, spec: ResourceQuerySpec, errors: ProblemFieldError[]): string | undefined {
  const text = featureText('q', spec.searchable, 'search fields', raw, spec, errors);
  if (text === undefined) {
    return undefined;
  }
  const q = text.trim();
  if (q.length === 0 || q.length > MAX_SEARCH_LENGTH) {
    errors.push({
      parameter: 'q',
      code: 'range',
      message: `q must be 1 to ${MAX_SEARCH_LENGTH} characters long (got ${q.length})`,
    });
    return undefined;
  }
  return q;
}

/** `trashed=only|with`, on resources with soft delete. */
function parseTrashed(
  raw: unknown,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): Trashed | undefined {
  const text = featureText('trashed', spec.softDelete === true, 'soft delete', raw, spec, errors);
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

/**
 * The 400 problem for a list of parameter errors; the detail names the parameters as written.
 * Example: `throw badQuery([{ parameter: 'after', code: 'invalid', message: '…' }])`.
 */
export function badQuery(errors: ProblemFieldError[]): ProblemException {
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
