import type { ProblemFieldError } from 'src/framework/http/problem';
import {
  FILTER_OPERATORS,
  FieldSpec,
  FieldType,
  FilterOperator,
  FilterTerm,
  ResourceQuerySpec,
} from 'src/framework/resource/query-types';
import { isRecord, isTextList, listOf, quote } from 'src/framework/resource/query/raw-input';
import {
  INVALID,
  OUT_OF_RANGE,
  coerce,
  compareValues,
  expected,
  parseBoolean,
} from 'src/framework/resource/query/values';

/** Longest filter value (or list item) accepted, in characters. */
export const MAX_VALUE_LENGTH = 1000;
/** Items an `in`/`nin` list may hold. */
export const MAX_LIST_ITEMS = 100;

const KNOWN_OPERATORS: ReadonlySet<string> = new Set<string>(FILTER_OPERATORS);
const LIST_OPERATORS: ReadonlySet<FilterOperator> = new Set<FilterOperator>(['in', 'nin', 'between']);

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

/** How the client wrote a filter parameter: `filter[price]` or `filter[price][gte]`. */
function filterParameter(path: string, op?: string): string {
  return op === undefined ? `filter[${path}]` : `filter[${path}][${op}]`;
}

export function parseFilters(
  raw: unknown,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): FilterTerm[] {
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
