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

/** A filterable field: its spec and the operators declared for it. */
interface FilterEntry {
  field: FieldSpec;
  operators: ReadonlySet<FilterOperator>;
}

/** One filter parameter being read: its field, how the client wrote it, and where its terms and errors go. */
interface FilterInput {
  entry: FilterEntry;
  path: string;
  /** The operator as written (`filter[price][gte]`), undefined for the bare `filter[price]=…` (eq). */
  writtenOp?: string;
  filters: FilterTerm[];
  errors: ProblemFieldError[];
}

/** Records an error on the filter parameter as the client wrote it; returns INVALID for the caller to return. */
function fail(input: FilterInput, code: string, message: string): typeof INVALID {
  input.errors.push({ parameter: filterParameter(input.path, input.writtenOp), code, message });
  return INVALID;
}

/**
 * `filter[field]=value` and `filter[field][operator]=value`, typed against the resource's filterable fields.
 * Example: `parseFilters({ price: { gte: '10' } }, spec, errors)` → `[{ path: 'price', op: 'gte', value: 10 }]`.
 */
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
    } else {
      readFilter({ entry, path, filters, errors }, value);
    }
  }
  return filters;
}

/** One filterable field's parameter: a bare value (eq) or a record of operators. */
function readFilter(input: FilterInput, value: unknown): void {
  const path = input.path;
  if (typeof value === 'string') {
    addFilter(input, 'eq', value);
  } else if (Array.isArray(value)) {
    fail(
      input,
      'invalid',
      `filter[${path}] is given more than once; give each filter once (in takes a comma-separated list)`,
    );
  } else if (isRecord(value)) {
    for (const op of Object.keys(value)) {
      readOperator({ ...input, writtenOp: op }, value[op]);
    }
  } else if (typeof value === 'number' && Number.isFinite(value)) {
    addFilter(input, 'eq', String(value)); // a programmatic caller
  } else {
    fail(input, 'invalid', `filter[${path}] has no value`);
  }
}

/** `filter[field][op]=operand`: a known operator with one text value (a repeated list operator is joined). */
function readOperator(input: FilterInput & { writtenOp: string }, operand: unknown): void {
  const { path, writtenOp: op } = input;
  if (!KNOWN_OPERATORS.has(op)) {
    fail(
      input,
      'operator',
      `Unknown operator ${quote(op)} on ${path}; allowed: ${listOf(allowedOperators(input.entry))}`,
    );
  } else if (typeof operand === 'string') {
    addFilter(input, op as FilterOperator, operand);
  } else if (LIST_OPERATORS.has(op as FilterOperator) && isTextList(operand)) {
    addFilter(input, op as FilterOperator, operand.join(','));
  } else if (operand !== undefined) {
    fail(
      input,
      'invalid',
      Array.isArray(operand)
        ? `filter[${path}][${op}] is given more than once; give it once${LIST_OPERATORS.has(op as FilterOperator) ? ' with a comma-separated list' : ''}`
        : `filter[${path}][${op}] takes a single value; filters nest no deeper than filter[field][operator]`,
    );
  }
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
function allowedOperators(entry: FilterEntry): FilterOperator[] {
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

/** Adds the term `path op raw` once the operator is allowed on the field and `raw` types as its operand. */
function addFilter(input: FilterInput, op: FilterOperator, raw: string): void {
  const { entry, path } = input;
  const field = entry.field;
  if (!entry.operators.has(op) || !operatorFits(field, op)) {
    fail(
      input,
      'operator',
      `Operator ${op} is not allowed on ${path} (${field.type}${field.nullable ? ', nullable' : ''}); allowed: ${listOf(allowedOperators(entry)) || 'none'}`,
    );
    return;
  }
  const value = operandOf(input, op, raw);
  if (typeof value !== 'symbol') {
    input.filters.push({ path, op, value });
  }
}

/** The typed operand of `op`, or INVALID (the error recorded). */
function operandOf(input: FilterInput, op: FilterOperator, raw: string): unknown {
  switch (op) {
    case 'isnull': {
      const value = parseBoolean(raw);
      return value === INVALID
        ? fail(input, 'type', `isnull takes true, false, 1 or 0, got ${quote(raw)}`)
        : value;
    }
    case 'in':
    case 'nin':
      return listOperand(input, op, raw);
    case 'between':
      return betweenOperand(input, raw);
    case 'contains':
    case 'icontains':
    case 'startswith':
      return raw === '' ? fail(input, 'range', `${op} needs a non-empty value`) : coerceOperand(input, raw);
    default:
      return coerceOperand(input, raw);
  }
}

/** `in`/`nin`: 1 to MAX_LIST_ITEMS comma-separated values, each typed as the field. */
function listOperand(input: FilterInput, op: FilterOperator, raw: string): unknown {
  const items: unknown[] = raw === '' ? [] : raw.split(',', MAX_LIST_ITEMS + 1);
  if (items.length === 0 || items.length > MAX_LIST_ITEMS) {
    return fail(
      input,
      'range',
      `${op} takes 1 to ${MAX_LIST_ITEMS} comma-separated values${items.length === 0 ? '' : ', got more'}`,
    );
  }
  for (let i = 0; i < items.length; i++) {
    const item = coerceItem(input, items[i] as string);
    if (typeof item === 'symbol') {
      return INVALID;
    }
    items[i] = item; // the split array is reused for the coerced values
  }
  return items;
}

/** `between`: exactly `lower,upper`, with lower ≤ upper where the type has an order clients can see. */
function betweenOperand(input: FilterInput, raw: string): unknown {
  const items = raw.split(',', 3);
  if (items.length !== 2) {
    return fail(
      input,
      'invalid',
      `between takes exactly two comma-separated values (lower,upper), got ${quote(raw)}`,
    );
  }
  const lower = coerceItem(input, items[0]);
  const upper = coerceItem(input, items[1]);
  if (typeof lower === 'symbol' || typeof upper === 'symbol') {
    return INVALID;
  }
  const order = compareValues(input.entry.field.type, lower, upper);
  if (order !== undefined && order > 0) {
    return fail(input, 'range', `between needs lower ≤ upper, got ${quote(raw)}`);
  }
  return [lower, upper];
}

/** One item of an `in`/`nin`/`between` list: like a single value, but never empty (`a,,b` is a mistake). */
function coerceItem(input: FilterInput, raw: string): unknown {
  if (raw === '') {
    return fail(input, 'invalid', `${input.writtenOp ?? 'eq'} has an empty item in its comma-separated list`);
  }
  return coerceOperand(input, raw);
}

/** One filter value (or list item) coerced to the field type; records the error and returns INVALID on failure. */
function coerceOperand(input: FilterInput, raw: string): unknown {
  const { field } = input.entry;
  if (raw.length > MAX_VALUE_LENGTH) {
    return fail(input, 'range', `Values are limited to ${MAX_VALUE_LENGTH} characters (got ${raw.length})`);
  }
  const value = coerce(field, raw);
  if (value === INVALID) {
    fail(input, 'type', `${quote(raw)} is not valid for ${input.path}: expected ${expected(field)}`);
  } else if (value === OUT_OF_RANGE) {
    return fail(
      input,
      'range',
      `${quote(raw)} is out of range for ${input.path}: expected ${expected(field)}`,
    );
  }
  return value;
}
