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
import type { FieldSpec } from 'src/framework/resource/query-types';
import { listOf } from 'src/framework/resource/query/raw-input';

const NUMBER_RE = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
// An unencoded `+` in an offset arrives as a space (form encoding); it cannot mean anything else there.
const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([-+ ])(\d{2}):?(\d{2})))?$/i;

const INT8 = INTEGER_RANGES.int64;

export const INVALID: unique symbol = Symbol('invalid');
export const OUT_OF_RANGE: unique symbol = Symbol('out of range');

/**
 * A query-string value typed as the column: the coerced value, INVALID or OUT_OF_RANGE. Integers are bounded
 * by their column's type, so a value PostgreSQL would refuse (22003) is refused here, naming the parameter.
 */
export function coerce(field: FieldSpec, raw: string): unknown {
  switch (field.type) {
    case 'string':
    case 'text':
      return raw;
    case 'integer': {
      if (!INTEGER_RE.test(raw)) {
        return INVALID;
      }
      const value = Number(raw);
      const { minimum, maximum } = INTEGER_RANGES[field.integerFormat ?? 'int32'];
      return value >= minimum && value <= maximum ? value + 0 : OUT_OF_RANGE; // + 0 turns -0 into 0
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

export function parseBoolean(raw: string): boolean | typeof INVALID {
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
export function parseDatetime(raw: string): Date | undefined {
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

/** What a value of this field looks like, for messages (integers with their column's bounds). */
export function expected(field: FieldSpec): string {
  switch (field.type) {
    case 'integer':
    case 'bigint': {
      const { minimum, maximum } =
        INTEGER_RANGES[field.type === 'bigint' ? 'int64' : (field.integerFormat ?? 'int32')];
      return `an integer from ${minimum} to ${maximum}`;
    }
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
export function compareValues(type: FieldType, a: unknown, b: unknown): number | undefined {
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
