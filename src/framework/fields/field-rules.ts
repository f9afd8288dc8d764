import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { DECIMAL_MAX, DECIMAL_MIN, IS_SLUG } from 'src/framework/fields/field.decorators';
import {
  DATE_PATTERN,
  DATETIME_PATTERN,
  EMAIL_PATTERN,
  INT64_PATTERN,
  INTEGER_RANGES,
  SLUG_PATTERN,
  UUID_PATTERN,
  compareDecimals,
  decimalDescription,
  decimalPattern,
} from 'src/framework/fields/formats';

/** How a column's values are written in JSON and query strings, and compared. */
export type FieldType =
  | 'string'
  | 'text'
  | 'integer'
  | 'bigint'
  | 'number'
  | 'decimal'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'uuid'
  | 'enum'
  | 'json';

/**
 * Everything that constrains one field's values, derived once at boot from its TypeORM column and its
 * class-validator rules. OpenAPI, the admin schema (and through it the admin's form checks) and body
 * validation read it, so the document states exactly what the server enforces.
 */
export interface FieldRules {
  type: FieldType;
  /** OpenAPI format: int16/int32/int64, decimal, float, double, date, date-time, uuid, email, uri. */
  format?: string;
  nullable: boolean;
  /** Inclusive bounds of numbers (integer, number). */
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  /** Inclusive bounds of a decimal, exact (`@DecimalMin('0')`). */
  decimalMinimum?: string;
  decimalMaximum?: string;
  /** Digits of a `numeric(precision, scale)` column. */
  precision?: number;
  scale?: number;
  /** In characters (code points), as PostgreSQL and JSON Schema count. */
  minLength?: number;
  maxLength?: number;
  /** One ECMA-262 pattern without flags (several rules are joined with look-aheads). */
  pattern?: string;
  /** What the pattern means, as a sentence for people: the rule's own message, else the format's. */
  patternMessage?: string;
  enum?: readonly string[];
  minItems?: number;
  maxItems?: number;
  /** The column's default as the API writes it, when it is a constant. */
  default?: unknown;
  /** class-validator rules no keyword above expresses (custom constraints), by name: checked, and named in docs. */
  custom: string[];
}

/** A declaration the field rules cannot state honestly; the resource's boot turns it into NST-R011. */
export class FieldRuleError extends Error {}

/** Maps a TypeORM column type to the field type. */
export function fieldTypeOf(column: ColumnMetadata): FieldType {
  const type = column.type;
  if (typeof type === 'function') {
    const name = (type as { name?: string }).name;
    // TypeORM maps a bare `number` property (and @PrimaryGeneratedColumn()) to PostgreSQL `integer`.
    return name === 'Number'
      ? 'integer'
      : name === 'Boolean'
        ? 'boolean'
        : name === 'Date'
          ? 'datetime'
          : 'string';
  }
  switch (String(type).toLowerCase()) {
    case 'int':
    case 'int2':
    case 'int4':
    case 'integer':
    case 'smallint':
    case 'increment':
      return 'integer';
    case 'int8':
    case 'bigint':
      return 'bigint';
    case 'numeric':
    case 'decimal':
    case 'money':
      return 'decimal';
    case 'real':
    case 'float':
    case 'float4':
    case 'float8':
    case 'double precision':
      return 'number';
    case 'bool':
    case 'boolean':
      return 'boolean';
    case 'text':
    case 'citext':
      return 'text';
    case 'uuid':
      return 'uuid';
    case 'enum':
    case 'simple-enum':
      return 'enum';
    case 'date':
      return 'date';
    case 'timestamp':
    case 'timestamptz':
    case 'timestamp with time zone':
    case 'timestamp without time zone':
      return 'datetime';
    case 'json':
    case 'jsonb':
    case 'simple-json':
      return 'json';
    default:
      return 'string';
  }
}

/** The OpenAPI format and value bounds a column's type implies. */
function typeRules(column: ColumnMetadata, type: FieldType): Partial<FieldRules> {
  const sqlType = typeof column.type === 'string' ? column.type.toLowerCase() : '';
  switch (type) {
    case 'integer': {
      const int16 = sqlType === 'smallint' || sqlType === 'int2';
      const range = INTEGER_RANGES[int16 ? 'int16' : 'int32'];
      // A serial key starts at 1: no id the API hands out is 0 or negative.
      const serial = column.isGenerated && column.generationStrategy === 'increment';
      return { format: int16 ? 'int16' : 'int32', ...range, ...(serial ? { minimum: 1 } : {}) };
    }
    case 'bigint':
      return { format: 'int64', pattern: INT64_PATTERN };
    case 'number':
      return { format: sqlType === 'real' || sqlType === 'float4' ? 'float' : 'double' };
    case 'decimal':
      return {
        format: 'decimal',
        precision: column.precision ?? undefined,
        scale: column.scale ?? undefined,
      };
    case 'date':
      return { format: 'date', pattern: DATE_PATTERN };
    case 'datetime':
      return { format: 'date-time', pattern: DATETIME_PATTERN };
    case 'uuid':
      return { format: 'uuid', pattern: UUID_PATTERN };
    case 'enum':
      return { enum: column.enum?.map(String) };
    case 'string':
      return column.length ? { maxLength: Number(column.length) } : {};
    default:
      return {};
  }
}

/** A column's constant default as the API shows it (`0` of a numeric column is `"0"`); functions are not constants. */
function defaultOf(column: ColumnMetadata, type: FieldType): unknown {
  const value: unknown = column.default;
  if (value === undefined || value === null || typeof value === 'function') {
    return undefined;
  }
  if (type === 'decimal' || type === 'bigint') {
    return typeof value === 'number' || typeof value === 'string' ? String(value) : undefined;
  }
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean'
    ? value
    : undefined;
}

/**
 * The rules of a column, before its class-validator rules are merged in.
 * Example: `columnRules(metadata.findColumnWithPropertyName('price')!)` → `{ type: 'decimal', precision: 10, … }`.
 */
export function columnRules(column: ColumnMetadata, type = fieldTypeOf(column)): FieldRules {
  return {
    type,
    nullable: column.isNullable,
    ...typeRules(column, type),
    default: defaultOf(column, type),
    custom: [],
  };
}

/** The rules class-validator decorators state for one property (every group; `each` rules are the items'). */
function validatorMetadata(target: unknown, property: string): ValidationMetadata[] {
  if (typeof target !== 'function') {
    return [];
  }
  return getMetadataStorage()
    .getTargetValidationMetadatas(target as new () => object, '', true, false)
    .filter((rule) => rule.propertyName === property);
}

/** class-validator rules that only restate the column's type (the type check covers them). */
const TYPE_ONLY = new Set([
  'isString',
  'isInt',
  'isNumber',
  'isBoolean',
  'isDate',
  'isDateString',
  'isISO8601',
  'isDefined',
  'isObject',
  'isArray',
  'isOptional',
  'isNumberString',
  'isDecimal',
]);

/** Joins several patterns into one that a value must match all of (JSON Schema has one `pattern`). */
function allPatterns(patterns: readonly string[]): string {
  return patterns.length === 1 ? patterns[0] : `^${patterns.map((p) => `(?=[\\s\\S]*?(?:${p}))`).join('')}`;
}

function tighter(a: number | undefined, b: number | undefined, pick: (x: number, y: number) => number) {
  return a === undefined ? b : b === undefined ? a : pick(a, b);
}

/** A rule's own message, with class-validator's `$property` token filled in. */
function ruleMessage(rule: ValidationMetadata, property: string): string | undefined {
  return typeof rule.message === 'string' ? rule.message.replace(/\$property/g, property) : undefined;
}

/** One class-validator `@Matches` pattern as a flag-free source, or a FieldRuleError. */
function patternSource(rule: ValidationMetadata): string {
  const [pattern, modifiers] = rule.constraints as [RegExp | string, string | undefined];
  const source = pattern instanceof RegExp ? pattern.source : pattern;
  const flags = pattern instanceof RegExp ? pattern.flags : (modifiers ?? '');
  if (flags.replace('u', '') !== '') {
    throw new FieldRuleError(
      `@Matches(/${source}/${flags}) has flags, which OpenAPI's pattern cannot carry: write it without them (e.g. [A-Za-z] for /i)`,
    );
  }
  try {
    new RegExp(source, 'u'); // JSON Schema validators compile patterns as Unicode regular expressions
  } catch {
    throw new FieldRuleError(`@Matches(/${source}/) is not a valid Unicode regular expression`);
  }
  return source;
}

/** A field's rules while its class-validator rules are read, with the patterns and messages met so far. */
interface RulesInProgress {
  rules: FieldRules;
  patterns: string[];
  messages: string[];
  property: string;
}

/** What one class-validator rule does to the field's rules; `a` and `b` are its constraints. */
type RuleStep = (p: RulesInProgress, rule: ValidationMetadata, a: unknown, b: unknown) => void;

function minMax({ rules }: RulesInProgress, rule: ValidationMetadata, a: unknown): void {
  if (rules.type === 'decimal') {
    throw new FieldRuleError(
      `@${rule.name === 'min' ? 'Min' : 'Max'}(${String(a)}) on a decimal string always fails: use @Decimal${rule.name === 'min' ? 'Min' : 'Max'}('${String(a)}')`,
    );
  }
  if (rule.name === 'min') {
    rules.minimum = tighter(rules.minimum, Number(a), Math.max);
  } else {
    rules.maximum = tighter(rules.maximum, Number(a), Math.min);
  }
}

function oneOf({ rules }: RulesInProgress, rule: ValidationMetadata, a: unknown, b: unknown): void {
  const values = (rule.name === 'isIn' ? a : b) as unknown[];
  const allowed = values.map(String);
  rules.enum = rules.enum ? rules.enum.filter((v) => allowed.includes(v)) : allowed;
}

/** The class-validator rules that say something a schema can state; every other rule is custom or type-only. */
const RULE_STEPS = new Map<string, RuleStep>([
  ['min', minMax],
  ['max', minMax],
  ['isPositive', ({ rules }) => void (rules.exclusiveMinimum = tighter(rules.exclusiveMinimum, 0, Math.max))],
  ['isNegative', ({ rules }) => void (rules.exclusiveMaximum = tighter(rules.exclusiveMaximum, 0, Math.min))],
  ['minLength', ({ rules }, _, a) => void (rules.minLength = tighter(rules.minLength, Number(a), Math.max))],
  ['maxLength', ({ rules }, _, a) => void (rules.maxLength = tighter(rules.maxLength, Number(a), Math.min))],
  [
    'isLength',
    ({ rules }, _, a, b) => {
      rules.minLength = tighter(rules.minLength, Number(a), Math.max);
      if (b !== undefined) {
        rules.maxLength = tighter(rules.maxLength, Number(b), Math.min);
      }
    },
  ],
  [
    'isNotEmpty',
    ({ rules }) => {
      rules.nullable = false;
      if (rules.type === 'string' || rules.type === 'text') {
        rules.minLength = tighter(rules.minLength, 1, Math.max);
      }
    },
  ],
  [
    'matches',
    ({ patterns, messages, property }, rule) => {
      const source = patternSource(rule);
      patterns.push(source);
      messages.push(ruleMessage(rule, property) ?? `${property} must match /${source}/`);
    },
  ],
  [
    IS_SLUG,
    ({ patterns, messages, property }, rule) => {
      patterns.push(SLUG_PATTERN);
      messages.push(
        ruleMessage(rule, property) ??
          `${property} must be lower-case words joined by hyphens, e.g. "garden-tools"`,
      );
    },
  ],
  [
    'isEmail',
    ({ rules, patterns }) => {
      rules.format = 'email';
      patterns.push(EMAIL_PATTERN);
    },
  ],
  ['isUrl', ({ rules }) => void (rules.format = 'uri')],
  [
    'isUUID',
    ({ rules, patterns }) => {
      rules.format = 'uuid';
      patterns.push(UUID_PATTERN);
    },
  ],
  ['isIn', oneOf],
  ['isEnum', oneOf],
  ['arrayMinSize', ({ rules }, _, a) => void (rules.minItems = tighter(rules.minItems, Number(a), Math.max))],
  ['arrayMaxSize', ({ rules }, _, a) => void (rules.maxItems = tighter(rules.maxItems, Number(a), Math.min))],
  [
    DECIMAL_MIN,
    ({ rules }, _, a) => {
      rules.decimalMinimum =
        rules.decimalMinimum === undefined || compareDecimals(String(a), rules.decimalMinimum) > 0
          ? String(a)
          : rules.decimalMinimum;
    },
  ],
  [
    DECIMAL_MAX,
    ({ rules }, _, a) => {
      rules.decimalMaximum =
        rules.decimalMaximum === undefined || compareDecimals(String(a), rules.decimalMaximum) < 0
          ? String(a)
          : rules.decimalMaximum;
    },
  ],
]);

/** A decimal's own pattern first, then every pattern met, as one `pattern` with its messages. */
function finishPatterns({ rules, patterns, messages, property }: RulesInProgress): void {
  if (rules.type === 'decimal') {
    const nonNegative = rules.decimalMinimum !== undefined && !rules.decimalMinimum.startsWith('-');
    patterns.unshift(decimalPattern(rules.precision, rules.scale, nonNegative));
    messages.unshift(`${property} must be ${decimalDescription(rules.precision, rules.scale, nonNegative)}`);
  }
  if (patterns.length > 0) {
    rules.pattern = allPatterns(patterns);
  }
  if (messages.length > 0) {
    rules.patternMessage = messages.join('; ');
  }
}

/**
 * A field's complete rules: the column's, tightened by the class-validator rules on the property of
 * `target` (the entity, or a DTO class). Throws FieldRuleError for a rule that cannot be stated honestly
 * (a pattern with flags, `@Min` on a decimal string).
 * Example: `fieldRules(columnRules(column), Product, 'price')`.
 */
export function fieldRules(base: FieldRules, target: unknown, property: string): FieldRules {
  const rules: FieldRules = { ...base, custom: [...base.custom] };
  const progress: RulesInProgress = {
    rules,
    patterns: rules.pattern ? [rules.pattern] : [],
    messages: [],
    property,
  };
  for (const rule of validatorMetadata(target, property)) {
    if (rule.each || rule.type === 'conditionalValidation') {
      continue;
    }
    const [a, b] = (rule.constraints ?? []) as unknown[];
    const step = RULE_STEPS.get(rule.name ?? '');
    if (step) {
      step(progress, rule, a, b);
    } else if (!TYPE_ONLY.has(rule.name ?? '') && rule.type !== 'whitelistValidation') {
      rules.custom.push(rule.name ?? rule.type);
    }
  }
  finishPatterns(progress);
  return rules;
}
