/**
 * The value formats every surface shares: body validation, the query language, OpenAPI, the admin schema and
 * the admin UI's form checks all take them from here, so the spellings cannot drift apart. Patterns are
 * ECMA-262 sources without flags, as JSON Schema's `pattern` keyword needs them (no `/i`: letter cases are
 * spelled out).
 */

/** A UUID of any version, either letter case: `3f0e6c1e-8d2b-4a8e-9a57-2f1f0b6f1c11`. */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const UUID_RE = new RegExp(UUID_PATTERN);

/** An exact decimal written in plain digits: `-12.50`, `7`. No exponent, no leading `+` or `.`. */
export const DECIMAL_PATTERN = '^-?\\d+(\\.\\d+)?$';
export const DECIMAL_RE = new RegExp(DECIMAL_PATTERN);

/** A whole number in plain digits (the query language's and bigint's spelling). */
export const INTEGER_PATTERN = '^-?\\d+$';
export const INTEGER_RE = new RegExp(INTEGER_PATTERN);

/** A calendar date `YYYY-MM-DD` (the day itself is checked by {@link isCalendarDate}). */
export const DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$';
export const DATE_RE = new RegExp(DATE_PATTERN);

/**
 * An RFC 3339 timestamp with its offset, as written in bodies: `2024-05-01T12:00:00Z`,
 * `2024-05-01T12:00:00.250+02:00`. (OpenAPI's `date-time` format; the query language is more lenient.)
 */
export const DATETIME_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?([Zz]|[+-]\\d{2}:?\\d{2})$';
export const DATETIME_RE = new RegExp(DATETIME_PATTERN);

/**
 * The structure class-validator's `@IsEmail` (validator.js) requires of an address, which JSON Schema's
 * `email` format alone does not state: at most 64 characters before the `@`, 254 in all, host labels of 1 to
 * 63 letters, digits or inner hyphens, and a top-level domain of letters (or an IDN's `xn--` form).
 */
export const EMAIL_PATTERN =
  '^(?=.{1,254}$)[^\\s@]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$';

/** Lower-case words joined by hyphens: URL slugs, resource paths, tag names (`garden-tools`). */
export const SLUG_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';
export const SLUG_RE = new RegExp(SLUG_PATTERN);

/** PostgreSQL's integer ranges by column type, the bounds OpenAPI and body validation state. */
export const INTEGER_RANGES = {
  int16: { minimum: -32768, maximum: 32767 },
  int32: { minimum: -2147483648, maximum: 2147483647 },
  int64: { minimum: -(2n ** 63n), maximum: 2n ** 63n - 1n },
} as const;

/** Digit strings without leading zeros from 0 to `max`, as alternatives of a pattern (`0|[1-9]|1\d|20`). */
function digitsUpTo(max: string): string {
  const alternatives = ['0'];
  if (max.length > 1) {
    alternatives.push(`[1-9]\\d{0,${max.length - 2}}`);
  }
  // Every string of max's length that is smaller: max's first i digits, then a smaller digit, then any.
  for (let i = 0; i < max.length; i++) {
    const low = i === 0 ? 1 : 0;
    const high = Number(max[i]) - 1;
    if (high >= low) {
      const rest = max.length - i - 1;
      const digit = high === low ? String(low) : `[${low}-${high}]`;
      alternatives.push(`${max.slice(0, i)}${digit}${rest > 0 ? `\\d{${rest}}` : ''}`);
    }
  }
  if (max !== '0') {
    alternatives.push(max);
  }
  return alternatives.join('|');
}

/**
 * A pattern for the whole numbers from `minimum` (≤ 0) to `maximum` (≥ 0) in plain digits, leading zeros
 * allowed as the server reads them: where a JSON Schema `minimum` cannot hold a number beyond 2^53.
 * Example: `integerRangePattern(-128n, 127n)` matches `-128`, `007` and `127`, not `128`.
 */
export function integerRangePattern(minimum: bigint, maximum: bigint): string {
  return `^(?:0*(?:${digitsUpTo(maximum.toString())})|-0*(?:${digitsUpTo((-minimum).toString())}))$`;
}

/** A bigint (int8) in plain digits, within PostgreSQL's range. */
export const INT64_PATTERN = integerRangePattern(INTEGER_RANGES.int64.minimum, INTEGER_RANGES.int64.maximum);

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether the day exists (leap years included). Example: `isCalendarDate(2024, 2, 29) === true`. */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) {
    return false;
  }
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= DAYS_IN_MONTH[month - 1] + (leap ? 1 : 0);
}

/** Whether `YYYY-MM-DD…` starts with a day that exists. Example: `validDateText('2023-02-29') === false`. */
export function validDateText(text: string): boolean {
  return isCalendarDate(+text.slice(0, 4), +text.slice(5, 7), +text.slice(8, 10));
}

/**
 * The pattern of a `numeric(precision, scale)` column's values: at most `precision − scale` digits before the
 * point and `scale` after it; without the minus sign when the value may not be negative.
 * Example: `decimalPattern(10, 2, true) === '^\\d{1,8}(\\.\\d{1,2})?$'`.
 */
export function decimalPattern(precision?: number, scale = 0, nonNegative = false): string {
  const sign = nonNegative ? '' : '-?';
  if (precision === undefined) {
    return nonNegative ? '^\\d+(\\.\\d+)?$' : DECIMAL_PATTERN;
  }
  const whole = Math.max(precision - scale, 1);
  const fraction = scale > 0 ? `(\\.\\d{1,${scale}})?` : '';
  return `^${sign}\\d{1,${whole}}${fraction}$`;
}

/** What a `numeric(precision, scale)` value looks like, for messages: `a decimal with at most 8 digits…`. */
export function decimalDescription(precision?: number, scale = 0, nonNegative = false): string {
  const sign = nonNegative ? ' ≥ 0' : '';
  if (precision === undefined) {
    return `a decimal${sign} written as a string, e.g. "12.50"`;
  }
  const after = scale > 0 ? ` and at most ${scale} after the point` : ' and no fraction';
  return `a decimal${sign} with at most ${Math.max(precision - scale, 1)} digits before the point${after}, e.g. "${scale > 0 ? `12.${'5'.padEnd(scale, '0')}` : '12'}"`;
}

/** `-007.500` → `-7.5`; `-0.0` → `0`. The text must already match {@link DECIMAL_RE}. */
export function canonicalDecimal(raw: string): string {
  const negative = raw.charCodeAt(0) === 45; // '-'
  const dot = raw.indexOf('.');
  const intEnd = dot < 0 ? raw.length : dot;
  let start = negative ? 1 : 0;
  while (start < intEnd - 1 && raw.charCodeAt(start) === 48) {
    start++;
  }
  let end = raw.length;
  if (dot >= 0) {
    while (end > dot + 1 && raw.charCodeAt(end - 1) === 48) {
      end--;
    }
    if (end === dot + 1) {
      end = dot;
    }
  }
  const digits = raw.slice(start, end);
  if (digits === '0') {
    return '0';
  }
  return negative ? `-${digits}` : digits;
}

/** Compares two decimals exactly (no float rounding). Example: `compareDecimals('0.10', '0.1') === 0`. */
export function compareDecimals(a: string, b: string): number {
  const x = canonicalDecimal(a);
  const y = canonicalDecimal(b);
  const scale = Math.max(fractionLength(x), fractionLength(y));
  const p = scaledDecimal(x, scale);
  const q = scaledDecimal(y, scale);
  return p < q ? -1 : p > q ? 1 : 0;
}

function fractionLength(decimal: string): number {
  const dot = decimal.indexOf('.');
  return dot < 0 ? 0 : decimal.length - dot - 1;
}

function scaledDecimal(decimal: string, scale: number): bigint {
  const dot = decimal.indexOf('.');
  const whole = dot < 0 ? decimal : decimal.slice(0, dot);
  const fraction = dot < 0 ? '' : decimal.slice(dot + 1);
  return BigInt(whole + fraction.padEnd(scale, '0'));
}

/**
 * A string's length as PostgreSQL's `varchar(n)`, JSON Schema's `maxLength` and class-validator's
 * `@Length` count it: in characters (code points), so an emoji counts once.
 * Example: `textLength('👍a') === 2`.
 */
export function textLength(text: string): number {
  let surrogates = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xdc00 && code <= 0xdfff && i > 0) {
      const previous = text.charCodeAt(i - 1);
      if (previous >= 0xd800 && previous <= 0xdbff) {
        surrogates++;
      }
    }
  }
  return text.length - surrogates;
}
