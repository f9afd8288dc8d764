import { types } from 'pg';
import type { CustomTypesConfig } from 'pg';

/** PostgreSQL's type oids with a fast text parser here. */
const INT2_ARRAY = 1005;
const INT4_ARRAY = 1007;
const TIMESTAMPTZ = 1184;

type Parser = (value: string) => unknown;

const POWERS_OF_TEN = [1, 10, 100, 1000, 10000, 100000, 1000000];

/**
 * pg-types' own text parsers, as it registered them: what `types.getTypeParser` answers until an app sets
 * another with `types.setTypeParser`. Taken from its registration, not from the registry when this module
 * loads, so that an app module that set a parser before the framework loaded is still seen. Where pg has a
 * pg-types of its own (another copy nested below it), none of these is the registry's and the fast parsers
 * stay off: only slower.
 */
const BUILTIN = new Map<number, Parser>();
// eslint-disable-next-line @typescript-eslint/no-require-imports -- pg-types' untyped registration list
(require('pg-types/lib/textParsers') as { init(register: (oid: number, parse: Parser) => void): void }).init(
  (oid, parse) => BUILTIN.set(oid, parse),
);
const parseTimestamp = BUILTIN.get(TIMESTAMPTZ)!;
/** node-postgres reads int2[] and int4[] with the same parser. */
const parseIntArray = BUILTIN.get(INT4_ARRAY)!;

/** A digit's value, or -1. */
function digit(text: string, at: number): number {
  const code = text.charCodeAt(at) - 48;
  return code >= 0 && code <= 9 ? code : -1;
}

/** The number written by the `length` digits at `at`, or -1 when one is not a digit. */
function digits(text: string, at: number, length: number): number {
  let value = 0;
  for (let i = at; i < at + length; i++) {
    const d = digit(text, i);
    if (d < 0) {
      return -1;
    }
    value = value * 10 + d;
  }
  return value;
}

/** Days in `month` (1–12) of `year`, in the proleptic Gregorian calendar Date uses. */
function daysIn(year: number, month: number): number {
  if (month === 2) {
    return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * A `timestamptz` parseUtcTimestamp read: a Date in every way, whose JSON is PostgreSQL's own text rearranged
 * rather than Date's toISOString, which costs about 0.6 µs a date inside JSON.stringify (most of a 20-row
 * page's serialization: 59 against 12 µs for 80 dates). A date changed after it was read answers Date's JSON.
 */
class ReadTimestamp extends Date {
  readonly #text: string;
  readonly #time: number;

  constructor(time: number, text: string) {
    super(time);
    this.#time = time;
    this.#text = text;
  }

  override toJSON(): string {
    const time = this.getTime();
    if (time !== this.#time) {
      return super.toJSON();
    }
    // The text's date and time of day, which Date.UTC kept as they were (see parseUtcTimestamp), and the
    // milliseconds Date kept of the fraction.
    const ms = ((time % 1000) + 1000) % 1000;
    const text = this.#text;
    return `${text.slice(0, 10)}T${text.slice(11, 19)}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  }
}
// Its constructor is Date's, so a user's test comparing a read row with `toStrictEqual` (which compares
// constructors), util.inspect and `new value.constructor(…)` see the plain Date it stands for.
Object.defineProperty(ReadTimestamp.prototype, 'constructor', {
  value: Date,
  writable: true,
  configurable: true,
});

/**
 * A `timestamptz` in the form PostgreSQL writes it in a UTC session (`2026-12-04 10:00:00.123456+00`, the
 * fraction optional, 1 to 6 digits), as node-postgres's parser (postgres-date) reads it: the same
 * `Date.UTC` of the same numbers, the fraction as `1000 * parseFloat('.123456')` (computed without the text). Anything else (another
 * offset, BC, infinity, years before 1000 or after 9999) is left to postgres-date. The Date answered is a
 * ReadTimestamp, whose JSON is quicker to write.
 */
export function parseUtcTimestamp(value: string): unknown {
  const length = value.length;
  const fraction = length - 3 - 19; // characters between the seconds and `+00`, point included
  if (
    (fraction !== 0 && (fraction < 2 || fraction > 7 || value.charCodeAt(19) !== 46)) || // '.'
    value.charCodeAt(length - 3) !== 43 || // '+'
    value.charCodeAt(length - 2) !== 48 ||
    value.charCodeAt(length - 1) !== 48 ||
    value.charCodeAt(4) !== 45 || // '-'
    value.charCodeAt(7) !== 45 ||
    value.charCodeAt(10) !== 32 || // ' '
    value.charCodeAt(13) !== 58 || // ':'
    value.charCodeAt(16) !== 58
  ) {
    return parseTimestamp(value);
  }
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  const hour = digits(value, 11, 2);
  const minute = digits(value, 14, 2);
  const second = digits(value, 17, 2);
  if (year < 1000 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
    return parseTimestamp(value);
  }
  let ms = 0;
  if (fraction !== 0) {
    const decimals = digits(value, 20, fraction - 1);
    if (decimals < 0) {
      return parseTimestamp(value);
    }
    // parseFloat('.123456') is the double nearest 123456 / 10^6, which is what dividing gives (both exact).
    ms = 1000 * (decimals / POWERS_OF_TEN[fraction - 1]);
  }
  const time = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Components out of range (PostgreSQL writes none) roll over in Date.UTC: the text is then not the date's.
  const canonical =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    (day <= 28 || day <= daysIn(year, month)) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59;
  return canonical ? new ReadTimestamp(time, value) : new Date(time);
}

/**
 * An `int2[]`/`int4[]` of one dimension without NULLs (`{1,-2,3}`, `{}`), as node-postgres reads it (numbers
 * by `parseInt(entry, 10)`: exact for these types); anything else is left to its parser.
 */
export function parseIntegerArray(value: string): unknown {
  const length = value.length;
  if (length < 2 || value.charCodeAt(0) !== 123 || value.charCodeAt(length - 1) !== 125) {
    return parseIntArray(value); // '{' … '}'
  }
  const entries: number[] = [];
  if (length === 2) {
    return entries;
  }
  let n = 0;
  let negative = false;
  let count = 0; // digits in the current entry
  for (let i = 1; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 48 && code <= 57) {
      n = n * 10 + (code - 48);
      count++;
    } else if (code === 45 && count === 0 && !negative) {
      negative = true;
    } else if ((code === 44 || i === length - 1) && count > 0 && count <= 10) {
      entries.push(negative ? -n : n); // ',' or the closing '}'
      n = 0;
      count = 0;
      negative = false;
    } else {
      return parseIntArray(value);
    }
  }
  return entries;
}

/** The fast parser standing in for pg-types' own parser of `oid`. */
const FAST = new Map<number, Parser>([
  [TIMESTAMPTZ, parseUtcTimestamp],
  [INT2_ARRAY, parseIntegerArray],
  [INT4_ARRAY, parseIntegerArray],
]);

/**
 * The `types` of a node-postgres query config (`{ text, values, types: READ_TYPES }`): the fast parsers
 * above for `timestamptz`, `int2[]` and `int4[]` while the global registry holds pg-types' own parser for
 * them, and the global parsers (those a pooled client and TypeORM use) for everything else: a parser an app
 * set with `types.setTypeParser` is honoured here too, so generated reads answer (and hash) a row as the
 * write routes do. node-postgres asks once per column of each result.
 */
export const READ_TYPES: CustomTypesConfig = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
    const current = types.getTypeParser(oid, format ?? 'text') as Parser;
    if (format !== 'binary' && current === BUILTIN.get(oid)) {
      return FAST.get(oid) ?? current;
    }
    return current;
  },
};
