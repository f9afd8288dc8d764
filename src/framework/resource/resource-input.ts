import { validate } from 'class-validator';
import { type EntityManager, QueryFailedError } from 'typeorm';
import type { ProblemFieldError } from 'src/framework/http/problem';
import { checkBodyShape, fieldErrors, validationProblem } from 'src/framework/http/validation';
import type { FieldRules } from 'src/framework/fields/field-rules';
import {
  DATE_RE,
  DATETIME_RE,
  DECIMAL_RE,
  INTEGER_RANGES,
  INTEGER_RE,
  UUID_RE,
  decimalDescription,
  textLength,
  validDateText,
} from 'src/framework/fields/formats';
import { MAX_IDS } from 'src/framework/resource/resource-definition';
import type { ResourceDefinition, ResourceField } from 'src/framework/resource/resource-definition';
import { ident, tableOf } from 'src/framework/database/sql';
import { notDeleted } from 'src/framework/resource/resource-sql';

/** A validated write: column values by property name, and the id lists of to-many relations. */
export interface ResourceInput {
  values: Record<string, unknown>;
  many: Map<ResourceField, unknown[]>;
}

/** A checked body value: the value to store, or why it is refused (`code` as in problem+json `errors`). */
type Coerced = { value: unknown } | { error: string; code: string };

function coerceText({ name, rules }: ResourceField, value: unknown): Coerced {
  if (typeof value !== 'string') {
    return { error: `${name} must be a string`, code: 'type' };
  }
  // Counted in characters, as varchar(n) and OpenAPI's maxLength count (an emoji is one).
  if (
    rules.maxLength !== undefined &&
    value.length > rules.maxLength &&
    textLength(value) > rules.maxLength
  ) {
    return { error: `${name} must be at most ${rules.maxLength} characters`, code: 'maxLength' };
  }
  return { value };
}

/** The column type's range; @Min/@Max are the entity's rules, checked (and coded) by class-validator. */
function coerceInteger({ name, rules }: ResourceField, value: unknown): Coerced {
  return Number.isSafeInteger(value) && inColumnRange(rules, value as number)
    ? { value }
    : { error: `${name} must be an integer${rangeText(rules)}`, code: 'type' };
}

/** Stored as a string of digits: a 64-bit integer does not fit a JSON number exactly. */
function coerceBigint({ name }: ResourceField, value: unknown): Coerced {
  const text = Number.isSafeInteger(value) ? String(value) : value;
  return typeof text === 'string' && INTEGER_RE.test(text) && bigintFits(text)
    ? { value: text }
    : { error: `${name} must be a 64-bit integer (as a number or a string of digits)`, code: 'type' };
}

/** Stored as text, as decimals are written; precision and scale as the column declares them. */
function coerceDecimal({ name, rules }: ResourceField, value: unknown): Coerced {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !DECIMAL_RE.test(text)) {
    return { error: `${name} must be ${decimalDescription(rules.precision, rules.scale)}`, code: 'type' };
  }
  const [whole, fraction = ''] = text.replace('-', '').split('.');
  const scale = rules.scale ?? 0;
  if (
    rules.precision !== undefined &&
    (fraction.length > scale || whole.replace(/^0+/, '').length > rules.precision - scale)
  ) {
    return {
      error: `${name} must be ${decimalDescription(rules.precision, rules.scale)}`,
      code: 'maxDigits',
    };
  }
  return { value: text };
}

function coerceDatetime({ name }: ResourceField, value: unknown): Coerced {
  return typeof value === 'string' && DATETIME_RE.test(value) && validDateText(value)
    ? { value: new Date(value) }
    : {
        error: `${name} must be an ISO 8601 timestamp with a time zone, like "2024-05-01T12:00:00Z"`,
        code: 'type',
      };
}

/** One check per field type: the value to store (normalised where the type has one spelling), or the error. */
const COERCERS: Record<ResourceField['type'], (field: ResourceField, value: unknown) => Coerced> = {
  string: coerceText,
  text: coerceText,
  integer: coerceInteger,
  bigint: coerceBigint,
  number: ({ name }, value) =>
    typeof value === 'number' && Number.isFinite(value)
      ? { value }
      : { error: `${name} must be a number`, code: 'type' },
  decimal: coerceDecimal,
  boolean: ({ name }, value) =>
    typeof value === 'boolean' ? { value } : { error: `${name} must be true or false`, code: 'type' },
  enum: ({ name, enumValues }, value) =>
    typeof value === 'string' && enumValues?.includes(value)
      ? { value }
      : { error: `${name} must be one of: ${enumValues?.join(', ')}`, code: 'enum' },
  date: ({ name }, value) =>
    typeof value === 'string' && DATE_RE.test(value) && validDateText(value)
      ? { value }
      : { error: `${name} must be a date like "2024-05-01"`, code: 'type' },
  datetime: coerceDatetime,
  uuid: ({ name }, value) =>
    typeof value === 'string' && UUID_RE.test(value)
      ? { value: value.toLowerCase() }
      : { error: `${name} must be a UUID`, code: 'type' },
  json: (_field, value) => ({ value }),
};

/** Checks one JSON value against the field's type and column rules; returns the value to store, or an error. */
function coerceValue(field: ResourceField, value: unknown): Coerced {
  return COERCERS[field.type](field, value);
}

function columnRange(rules: FieldRules): { minimum: number; maximum: number } {
  return INTEGER_RANGES[rules.format === 'int16' ? 'int16' : 'int32'];
}

function inColumnRange(rules: FieldRules, value: number): boolean {
  const range = columnRange(rules);
  return value >= range.minimum && value <= range.maximum;
}

function bigintFits(text: string): boolean {
  const value = BigInt(text);
  return value >= INTEGER_RANGES.int64.minimum && value <= INTEGER_RANGES.int64.maximum;
}

/** ` from -2,147,483,648 to 2,147,483,647`: bounds written for people. */
function rangeText(rules: FieldRules): string {
  const { minimum, maximum } = columnRange(rules);
  return ` from ${minimum.toLocaleString('en-US')} to ${maximum.toLocaleString('en-US')}`;
}

/** The element field of a list (`<relation>Ids`, typed like the target's key, or an array column's). */
function elementField(field: ResourceField): ResourceField {
  return { ...field, kind: 'column', array: undefined, nullable: false };
}

/** Each element of a list: typed like `field`'s elements, or an error pointing at it (`/tags/1`). */
function readElements(
  field: ResourceField,
  key: string,
  pointer: string,
  value: readonly unknown[],
  errors: ProblemFieldError[],
): unknown[] {
  const element = elementField(field);
  return value.map((item, i) => {
    const result = coerceValue(element, item);
    if ('error' in result) {
      errors.push({ pointer: `${pointer}/${i}`, code: result.code, message: `${key}/${i}: ${result.error}` });
    }
    return 'error' in result ? undefined : result.value;
  });
}

/** An array column's value: a list (of at most its `maxItems`) whose elements its element type accepts. */
function readArray(
  field: ResourceField,
  key: string,
  pointer: string,
  value: unknown,
  values: ResourceInput['values'],
): ProblemFieldError[] {
  const max = field.rules.maxItems;
  if (!Array.isArray(value) || (max !== undefined && value.length > max)) {
    const most = max === undefined ? '' : ` of at most ${max} items`;
    return [{ pointer, code: 'type', message: `${key} must be an array${most}` }];
  }
  const errors: ProblemFieldError[] = [];
  values[field.column!.propertyName] = readElements(field, key, pointer, value, errors);
  return errors;
}

/** The body must be a JSON object of a shape no validator should choke on. */
function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw validationProblem([{ pointer: '', code: 'type', message: 'the body must be a JSON object' }]);
  }
  // The same 400 as hand-written routes for bodies no validator should see (lone surrogates, deep nesting).
  checkBodyShape(body);
  return body as Record<string, unknown>;
}

/** A `<relation>Ids` list: at most MAX_IDS ids, each typed like the target's key; repeats count once. */
function readIds(
  field: ResourceField,
  key: string,
  pointer: string,
  value: unknown,
  many: ResourceInput['many'],
): ProblemFieldError[] {
  if (!Array.isArray(value) || value.length > MAX_IDS) {
    return [{ pointer, code: 'type', message: `${key} must be an array of at most ${MAX_IDS} ids` }];
  }
  const errors: ProblemFieldError[] = [];
  many.set(field, [...new Set(readElements(field, key, pointer, value, errors))]);
  return errors;
}

/** One body property: a writable field of the resource, with a value its type (and nullability) accepts. */
function readProperty(
  definition: ResourceDefinition,
  input: ResourceInput,
  key: string,
  value: unknown,
): ProblemFieldError[] {
  // A JSON Pointer (RFC 6901) escapes `~` and `/` in a property name.
  const pointer = `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  const field = definition.fields.get(key);
  if (!field || (!field.readable && !field.writable)) {
    return [{ pointer, code: 'unknown', message: `${key} is not a field of ${definition.name}` }];
  }
  if (!field.writable) {
    return [{ pointer, code: 'readOnly', message: `${key} is read-only` }];
  }
  if (field.kind === 'toManyIds') {
    return readIds(field, key, pointer, value, input.many);
  }
  if (value === null) {
    if (!field.nullable) {
      return [{ pointer, code: 'required', message: `${key} must not be null` }];
    }
    input.values[field.column!.propertyName] = null;
    return [];
  }
  if (field.array) {
    return readArray(field, key, pointer, value, input.values);
  }
  const result = coerceValue(field, value);
  if ('error' in result) {
    return [{ pointer, code: result.code, message: result.error }];
  }
  input.values[field.column!.propertyName] = result.value;
  return [];
}

/** A create must name every required writable field. */
function missingRequired(definition: ResourceDefinition, body: Record<string, unknown>): ProblemFieldError[] {
  return [...definition.writable.values()]
    .filter((field) => field.required && !(field.name in body))
    .map((field) => ({ pointer: `/${field.name}`, code: 'required', message: `${field.name} is required` }));
}

/**
 * The entity's own class-validator rules, on the values that passed the type checks. A field already
 * refused is not reported twice.
 */
async function entityRuleErrors(
  definition: ResourceDefinition,
  values: Record<string, unknown>,
  earlier: ProblemFieldError[],
): Promise<ProblemFieldError[]> {
  const failed = new Set(earlier.map((e) => e.pointer));
  const entity = definition.metadata.target as { prototype: object };
  const instance = Object.assign(Object.create(entity.prototype) as object, values);
  const ruleErrors = await validate(instance, {
    skipMissingProperties: true,
    forbidUnknownValues: false,
    validationError: { target: false, value: false },
  });
  return fieldErrors(ruleErrors).filter((e) => !failed.has(e.pointer));
}

/**
 * Validates a create (`partial: false`) or update body against the resource's writable fields: unknown
 * and read-only properties, types, nullability, required fields, then the entity's class-validator rules.
 * Throws a 422 listing every problem; nothing is written.
 */
export async function parseInput(
  definition: ResourceDefinition,
  body: unknown,
  partial: boolean,
): Promise<ResourceInput> {
  const object = bodyObject(body);
  const input: ResourceInput = { values: {}, many: new Map() };
  const errors: ProblemFieldError[] = [];
  for (const [key, value] of Object.entries(object)) {
    errors.push(...readProperty(definition, input, key, value));
  }
  if (!partial) {
    errors.push(...missingRequired(definition, object));
  }
  errors.push(...(await entityRuleErrors(definition, input.values, errors)));
  if (errors.length > 0) {
    throw validationProblem(errors);
  }
  return input;
}

/** 422 for every `<relation>Id(s)` that names a row that does not exist (or is soft-deleted). */
export async function checkReferences(
  manager: EntityManager,
  definition: ResourceDefinition,
  input: ResourceInput,
): Promise<void> {
  const errors: ProblemFieldError[] = [];
  const check = async (
    field: ResourceField,
    ids: unknown[],
    pointerOf: (i: number) => string,
  ): Promise<void> => {
    const target = field.relation!.inverseEntityMetadata;
    const pk = ident(target.primaryColumns[0].databaseName);
    const rows = await manager.query<{ id: unknown }[]>(
      `SELECT r.${pk} AS id FROM ${tableOf(target)} r WHERE r.${pk} = ANY($1)${notDeleted(target, 'r')}`,
      [ids],
    );
    const found = new Set(rows.map((r) => String(r.id)));
    ids.forEach((id, i) => {
      if (!found.has(String(id))) {
        errors.push({
          pointer: pointerOf(i),
          code: 'exists',
          message: `${field.name}: no ${target.name} with id ${String(id)}`,
        });
      }
    });
  };
  for (const field of definition.writable.values()) {
    if (field.kind === 'toOneId') {
      const value = input.values[field.column!.propertyName];
      if (value !== undefined && value !== null) {
        await check(field, [value], () => `/${field.name}`);
      }
    }
  }
  for (const [field, ids] of input.many) {
    if (ids.length > 0) {
      await check(field, ids, (i) => `/${field.name}/${i}`);
    }
  }
  if (errors.length > 0) {
    throw validationProblem(errors);
  }
}

/**
 * Whether the database itself refuses every reference this input writes: only `<relation>Id`s (links are
 * checked by checkReferences), each backed by a foreign key to a table without soft delete (a soft-deleted
 * row still satisfies the key). Then the write skips checkReferences' SELECT, one round trip of a create, and
 * a violation is answered by running it after the rollback (see answerMissingReferences).
 */
export function referencesEnforcedByDatabase(definition: ResourceDefinition, input: ResourceInput): boolean {
  if ([...input.many.values()].some((ids) => ids.length > 0)) {
    return false;
  }
  for (const field of definition.writable.values()) {
    const value = field.kind === 'toOneId' ? input.values[field.column!.propertyName] : undefined;
    if (value !== undefined && value !== null) {
      const relation = field.relation;
      if (!relation || relation.foreignKeys.length === 0 || relation.inverseEntityMetadata.deleteDateColumn) {
        return false;
      }
    }
  }
  return true;
}

/**
 * For a write that left its references to the database's foreign keys: turns a violation into the 400 that
 * checkReferences gives (every missing reference named), from a fresh read after the rollback. Any other
 * error, or a reference that exists again by now, is rethrown as it came.
 */
export async function answerMissingReferences(
  error: unknown,
  manager: EntityManager,
  definition: ResourceDefinition,
  input: ResourceInput,
): Promise<never> {
  if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23503') {
    await checkReferences(manager, definition, input);
  }
  throw error;
}
