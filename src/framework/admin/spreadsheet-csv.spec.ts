import { stringify } from 'csv-stringify/sync';
import { spreadsheetCell, spreadsheetCsvOptions } from 'src/framework/admin/spreadsheet-csv';
import type { FieldType } from 'src/framework/resource/query-types';

const types = new Map<string, FieldType>([
  ['name', 'string'],
  ['price', 'decimal'],
  ['stock', 'integer'],
  ['meta', 'json'],
]);
const sut = (rows: Record<string, unknown>[]): string =>
  stringify(rows, spreadsheetCsvOptions(['name', 'price', 'stock', 'meta'], types));

describe(spreadsheetCsvOptions.name, () => {
  it("writes OWASP's two examples exactly as OWASP escapes them", () => {
    expect(
      sut([{ name: '=1+2";=1+2' }, { name: `=1+2'" ;,=1+2` }])
        .split('\n')
        .slice(1, 3),
    ).toEqual([`"'=1+2"";=1+2",,,`, `"'=1+2'"" ;,=1+2",,,`]);
  });

  it.each(['=', '+', '-', '@', '\t', '\r', '\n', ' =', '\u00a0+', '\uFF1D', '\0'])(
    'neutralises text starting with %j',
    (start) => {
      expect(spreadsheetCell(`${start}SUM(1,2)`, false)).toEqual({
        value: `'${start}SUM(1,2)`,
        quoted: true,
      });
    },
  );

  it('leaves numbers of numeric fields raw, negative decimals included, but not numbers in text fields', () => {
    expect(sut([{ name: '-5', price: '-12.50', stock: -3 }]).split('\n')[1]).toBe(`"'-5",-12.50,-3,`);
  });

  it('neutralises a numeric field whose value is not a plain number', () => {
    expect(spreadsheetCell('-1+cmd', true)).toEqual({ value: "'-1+cmd", quoted: true });
    expect(sut([{ stock: -Infinity }]).split('\n')[1]).toBe(`,,"'-Infinity",`);
  });

  it('quotes cells holding a semicolon or tab, so no reader splits a formula out of them', () => {
    expect(sut([{ name: 'a;=1+2', meta: { note: '=x' } }]).split('\n')[1]).toBe(
      '"a;=1+2",,,"{""note"":""=x""}"',
    );
  });
});
