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

export const MAX_SEARCH_LENGTH = 200;

/** The parameters this resource's list accepts, for messages. */
function allowedParameters(spec: ResourceQuerySpec): string {
  return LIST_QUERY_PARAMETERS.filter(
    (p) => (p !== 'q' || spec.searchable) && (p !== 'trashed' || spec.softDelete === true),
  ).join(', ');
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
