import type { FieldRules } from 'src/framework/fields/field-rules';

/** A JSON Schema (OpenAPI 3.1) object. */
export type JsonSchema = Record<string, unknown>;

/** Characters the longest value of a format has: the OWASP rules want every string bounded. */
const FORMAT_LENGTHS: Record<string, number> = {
  date: 10,
  'date-time': 35, // 2024-05-01T12:00:00.123456789+02:00
  uuid: 36,
  int64: 20,
  email: 254, // RFC 5321's longest path
  uri: 2048,
};

const EXAMPLES: Record<string, string> = {
  date: '2024-05-01',
  'date-time': '2024-05-01T12:00:00.000Z',
  uuid: '3f0e6c1e-8d2b-4a8e-9a57-2f1f0b6f1c11',
  int64: '1',
  email: 'grace@example.com',
  uri: 'https://example.com/',
};

/** Longest text of a `numeric(p, s)` value: sign, digits before the point, the point and the fraction. */
function decimalLength(rules: FieldRules, negative: boolean): number | undefined {
  if (rules.precision === undefined) {
    return undefined;
  }
  const scale = rules.scale ?? 0;
  return (negative ? 1 : 0) + Math.max(rules.precision - scale, 1) + (scale > 0 ? scale + 1 : 0);
}

/** A value that satisfies the rules, for `example` (Swagger UI and Postman send it as is); undefined if none is obvious. */
function exampleOf(rules: FieldRules): unknown {
  const pattern = rules.pattern === undefined ? undefined : new RegExp(rules.pattern, 'u');
  const fits = (value: string): boolean => pattern === undefined || pattern.test(value);
  if (rules.enum?.length) {
    return rules.enum[0];
  }
  switch (rules.type) {
    case 'integer':
    case 'number': {
      let value = 1;
      if (rules.minimum !== undefined && value < rules.minimum) {
        value = rules.minimum;
      }
      if (rules.exclusiveMinimum !== undefined && value <= rules.exclusiveMinimum) {
        value = rules.exclusiveMinimum + 1;
      }
      if (rules.maximum !== undefined && value > rules.maximum) {
        value = rules.maximum;
      }
      return value;
    }
    case 'decimal': {
      const scale = rules.scale ?? 2;
      const candidate = scale > 0 ? `12.${'50'.padEnd(scale, '0').slice(0, scale)}` : '12';
      return [candidate, rules.decimalMinimum, '0'].find((v) => v !== undefined && fits(v));
    }
    case 'boolean':
      return true;
    case 'json':
      return undefined;
    default: {
      const own = rules.format === undefined ? undefined : EXAMPLES[rules.format];
      if (own !== undefined) {
        return fits(own) ? own : undefined;
      }
      const length = Math.max(rules.minLength ?? 0, Math.min(4, rules.maxLength ?? 4));
      const text = 'text'.padEnd(length, 't').slice(0, length);
      return fits(text) ? text : undefined;
    }
  }
}

/**
 * One bound per side, the stricter of the inclusive and exclusive ones (validators and linters expect one):
 * for integers an exclusive bound is the next integer inclusive (`> 0` is `≥ 1`).
 */
function bound(
  side: 'minimum' | 'maximum',
  inclusive: number | undefined,
  exclusive: number | undefined,
  integerStep: number | undefined,
): JsonSchema {
  if (exclusive === undefined) {
    return inclusive === undefined ? {} : { [side]: inclusive };
  }
  const asInclusive = integerStep === undefined ? undefined : exclusive + integerStep;
  const stricter = (a: number, b: number) => (side === 'minimum' ? a >= b : a <= b);
  if (asInclusive !== undefined) {
    return { [side]: inclusive === undefined || stricter(asInclusive, inclusive) ? asInclusive : inclusive };
  }
  const exclusiveKey = side === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum';
  return inclusive !== undefined && stricter(inclusive, exclusive) && inclusive !== exclusive
    ? { [side]: inclusive }
    : { [exclusiveKey]: exclusive };
}

/** The type keywords and bounds of a non-null value, as the API writes it. */
function valueSchema(rules: FieldRules): JsonSchema {
  switch (rules.type) {
    case 'integer':
    case 'number':
      return {
        type: rules.type,
        ...(rules.format ? { format: rules.format } : {}),
        ...bound('minimum', rules.minimum, rules.exclusiveMinimum, rules.type === 'integer' ? 1 : undefined),
        ...bound('maximum', rules.maximum, rules.exclusiveMaximum, rules.type === 'integer' ? -1 : undefined),
      };
    case 'boolean':
      return { type: 'boolean' };
    case 'json':
      return {};
    case 'enum':
      return { type: 'string', enum: [...(rules.enum ?? [])] };
    default: {
      const negative = !(rules.pattern ?? '').startsWith('^\\d');
      const maxLength =
        rules.maxLength ??
        (rules.type === 'decimal'
          ? decimalLength(rules, negative)
          : rules.format === undefined
            ? undefined
            : FORMAT_LENGTHS[rules.format]);
      return {
        type: 'string',
        ...(rules.format ? { format: rules.format } : {}),
        ...(rules.minLength !== undefined ? { minLength: rules.minLength } : {}),
        ...(maxLength !== undefined ? { maxLength } : {}),
        ...(rules.pattern !== undefined ? { pattern: rules.pattern } : {}),
        ...(rules.enum ? { enum: [...rules.enum] } : {}),
      };
    }
  }
}

/**
 * The number a decimal (or bigint) may also be sent as: the server accepts it when its plain decimal
 * spelling fits the same rules, which these bounds and `multipleOf` state.
 */
function numberAlternative(rules: FieldRules): JsonSchema {
  if (rules.type === 'bigint') {
    return { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
  }
  const scale = rules.scale ?? 0;
  const limit = rules.precision === undefined ? undefined : 10 ** Math.max(rules.precision - scale, 1);
  const min = rules.decimalMinimum === undefined ? undefined : Number(rules.decimalMinimum);
  const max = rules.decimalMaximum === undefined ? undefined : Number(rules.decimalMaximum);
  return {
    type: 'number',
    ...(min !== undefined ? { minimum: min } : limit !== undefined ? { exclusiveMinimum: -limit } : {}),
    ...(max !== undefined ? { maximum: max } : limit !== undefined ? { exclusiveMaximum: limit } : {}),
    ...(rules.precision !== undefined ? { multipleOf: 10 ** -scale } : {}),
  };
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Adds `null` to a schema's types (or a `null` branch to an `anyOf`). Example: `orNull({ type: 'array' })`. */
export function orNull(schema: JsonSchema): JsonSchema {
  if (typeof schema.type === 'string') {
    return { ...schema, type: [schema.type, 'null'] };
  }
  if (Array.isArray(schema.anyOf)) {
    return { ...schema, anyOf: [...(schema.anyOf as JsonSchema[]), { type: 'null' }] };
  }
  return schema; // no type keyword: null is already allowed
}

export interface FieldSchemaOptions {
  /** A request body's schema: decimals and bigints may also be numbers. */
  input?: boolean;
  /** The team's own `@ApiProperty({ example })`, else one is derived from the rules. */
  example?: unknown;
  /** The team's own description (or admin help text). */
  description?: string;
}

/**
 * The JSON Schema of a field with these rules: type, format, bounds, lengths, pattern, enum, default,
 * nullability and an example that satisfies them. Example: `fieldSchema(field.rules, { input: true })`.
 */
export function fieldSchema(rules: FieldRules, options: FieldSchemaOptions = {}): JsonSchema {
  let schema = valueSchema(rules);
  if (options.input && (rules.type === 'decimal' || rules.type === 'bigint')) {
    schema = { anyOf: [schema, numberAlternative(rules)] };
  }
  if (rules.nullable) {
    schema = orNull(schema);
  }
  const notes = [
    options.description,
    rules.patternMessage && !options.description ? `${capitalised(rules.patternMessage)}.` : undefined,
    rules.custom.length > 0 ? `Also checked: ${rules.custom.join(', ')}.` : undefined,
  ].filter((note): note is string => note !== undefined);
  const example = options.example === undefined ? exampleOf(rules) : options.example;
  return {
    ...schema,
    ...(notes.length > 0 ? { description: notes.join(' ') } : {}),
    ...(rules.default !== undefined ? { default: rules.default } : {}),
    ...(example !== undefined ? { example } : {}),
    ...(rules.custom.length > 0 ? { 'x-nestor-rules': [...rules.custom] } : {}),
  };
}
