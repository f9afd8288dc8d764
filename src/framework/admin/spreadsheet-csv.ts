import type { Options as CsvOptions } from 'csv-stringify';
import type { FieldType } from 'src/framework/resource/query-types';

/**
 * Cells a spreadsheet program would run as a formula (OWASP "CSV Injection"): starting with `=`, `+`, `-`,
 * `@`, tab, carriage return or line feed, also after leading whitespace (LibreOffice can trim it on import),
 * and the full-width `＝＋－＠` some locales evaluate too. NUL is ASVS 5's addition.
 */
const FORMULA_START = /^[\s\0]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]|^[\t\r\n\0]/;

/** A number as PostgreSQL and JavaScript write one: `-12.50`, `42`, `-7`. Nothing else is left raw. */
const PLAIN_NUMBER = /^-?\d+(?:\.\d+)?$/;

/** Field types whose values are numbers: their cells are left raw when they look like one (`-12.50`). */
const NUMERIC_TYPES: ReadonlySet<FieldType> = new Set(['integer', 'bigint', 'number', 'decimal']);

/**
 * Separators a spreadsheet may guess besides the comma: a cell holding one is quoted, so `a;=1+2` never
 * becomes a second cell starting with `=` in a semicolon locale (OWASP's warning about separators).
 */
const OTHER_SEPARATORS = /[;\t]/;

/** A text cell made inert: `'` in front (spreadsheets show it as text and hide the quote), and quoted. */
type InertCell = { value: string; quoted: true };

/**
 * The cell text for one value: inert when it could start a formula, raw when it is a number of a numeric
 * field. Example: `spreadsheetCell('=1+2', false)` → `{ value: "'=1+2", quoted: true }`.
 */
export function spreadsheetCell(text: string, numeric: boolean): string | InertCell {
  if (numeric && PLAIN_NUMBER.test(text)) {
    return text;
  }
  return FORMULA_START.test(text) ? { value: `'${text}`, quoted: true } : text;
}

/**
 * csv-stringify options for any file Nestor writes for spreadsheet programs (the admin's CSV export
 * today): formula-looking text neutralised, numbers of numeric fields left as numbers, dates in ISO 8601,
 * JSON for objects. The columns are the API's field names; `types` gives each field's type.
 * Not csv-stringify's `escape_formulas`: it treats decimal strings (`"-12.50"`) as text, and misses the
 * line feed OWASP lists and whitespace before the trigger.
 * Example: `stringify(spreadsheetCsvOptions(columns, new Map([['price', 'decimal']])))`.
 */
export function spreadsheetCsvOptions(
  columns: readonly string[],
  types: ReadonlyMap<string, FieldType>,
): CsvOptions {
  const numeric = new Set(columns.filter((name) => NUMERIC_TYPES.has(types.get(name) ?? 'string')));
  return {
    header: true,
    columns: [...columns],
    quoted_match: OTHER_SEPARATORS,
    cast: {
      string: (value, { column }) => spreadsheetCell(value, numeric.has(String(column))),
      number: (value) => spreadsheetCell(String(value), true),
      bigint: (value) => spreadsheetCell(String(value), true),
      date: (value) => value.toISOString(),
      boolean: (value) => (value ? 'true' : 'false'),
      object: (value) => spreadsheetCell(JSON.stringify(value), false),
    },
  };
}
