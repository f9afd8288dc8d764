import { inspect } from 'node:util';
import { types } from 'pg';
import { READ_TYPES, parseIntegerArray, parseUtcTimestamp } from 'src/framework/database/read-types';

type Format = 'text' | 'binary';
/** A parser by oid, for oids pg-types' typings do not list (`int4[]`). */
const pgParser = (oid: number, format?: Format): unknown => types.getTypeParser(oid, format);
const readParser = (oid: number, format?: Format): unknown => READ_TYPES.getTypeParser(oid, format);
const pgTimestamp = pgParser(1184, 'text') as (value: string) => unknown;
const pgIntArray = pgParser(1007, 'text') as (value: string) => unknown;

/** Equal as node-postgres's answer: same kind, same time (NaN included), same entries (-0 included). */
function same(actual: unknown, expected: unknown): boolean {
  if (expected instanceof Date) {
    return actual instanceof Date && Object.is(actual.getTime(), expected.getTime());
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((entry, i) => same(actual[i], entry))
    );
  }
  return Object.is(actual, expected);
}

/** A parser's answer, or the error it throws (as its message). */
function outcome(parse: (value: string) => unknown, input: string): unknown {
  try {
    return parse(input);
  } catch (error) {
    return `throws ${(error as Error).message}`;
  }
}

/** Both parsers on every input: the inputs they disagree on (none expected), with both answers. */
function disagreements(
  inputs: readonly string[],
  fast: (value: string) => unknown,
  pg: (value: string) => unknown,
): unknown[] {
  return inputs
    .map((input) => ({ input, fast: outcome(fast, input), pg: outcome(pg, input) }))
    .filter(({ fast, pg }) => !same(fast, pg));
}

/** A deterministic pseudo-random sequence (the same inputs on every run). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Timestamps as PostgreSQL writes them in a UTC session (random, and every short fraction), and edge cases. */
function timestampInputs(): string[] {
  const next = random(7);
  const inputs: string[] = [];
  for (let i = 0; i < 20000; i++) {
    const year = 1000 + Math.floor(next() * 9000);
    const fraction = Math.floor(next() * 7); // 0 to 6 digits
    const digits = pad(Math.floor(next() * 1000000), 6).slice(0, fraction);
    inputs.push(
      `${pad(year, 4)}-${pad(1 + Math.floor(next() * 12), 2)}-${pad(1 + Math.floor(next() * 31), 2)} ` +
        `${pad(Math.floor(next() * 24), 2)}:${pad(Math.floor(next() * 60), 2)}:${pad(Math.floor(next() * 60), 2)}` +
        `${fraction ? `.${digits}` : ''}+00`,
    );
  }
  // Every fraction of 1 to 4 digits, where rounding the fraction's double would show first.
  for (let places = 1; places <= 4; places++) {
    for (let n = 0; n < 10 ** places; n++) {
      inputs.push(`2026-12-04 10:00:00.${pad(n, places)}+00`);
    }
  }
  const edges = [
    '2026-12-04 10:00:00.123+00',
    '2026-12-04 10:00:00+00',
    '2026-12-04 10:00:00.1+00',
    '2026-12-04 10:00:00.000001+00',
    '2026-12-04 10:00:00.999999+00',
    '2026-12-04 10:00:00.0005+00',
    '2026-12-04 10:00:00.29+00',
    '2026-12-04 10:00:00.009+00',
    '2026-12-04 10:00:00.1234567+00', // 7 digits: not PostgreSQL's, left to pg
    '2026-12-04 10:00:00.+00',
    '2026-12-04 10:00:00.12a+00',
    '2026-12-04 10:00:60+00', // leap second
    '2026-02-30 10:00:00+00', // rolls over like Date.UTC
    '2024-02-29 10:00:00+00', // leap years: every fourth, not centuries, but every fourth century
    '2023-02-29 10:00:00+00',
    '2000-02-29 10:00:00+00',
    '2100-02-29 10:00:00+00',
    '2026-04-31 10:00:00+00',
    '2026-13-01 10:00:00+00',
    '2026-00-00 00:00:00+00',
    '2026-12-04 24:00:00+00',
    '2026-12-04 10:00:00+01',
    '2026-12-04 10:00:00.5-05',
    '2026-12-04 10:00:00+05:30',
    '2026-12-04 10:00:00-03:30:15',
    '2026-12-04 10:00:00Z',
    '2026-12-04T10:00:00+00',
    '2026-12-04 10:00:00+00 BC',
    '0044-03-15 12:00:00+00 BC',
    '0099-01-01 00:00:00+00',
    '0001-01-01 00:00:00+00',
    '0999-12-31 23:59:59.999+00',
    '1000-01-01 00:00:00+00',
    '9999-12-31 23:59:59.999999+00',
    '10000-01-01 00:00:00+00',
    '294276-12-31 23:59:59.999999+00',
    '1970-01-01 00:00:00+00',
    '1969-12-31 23:59:59.999999+00',
    'infinity',
    '-infinity',
    '2026-12-04',
    '2026-12-04 10:00:00',
    '2026-12-04 10:00+00',
    '2026-1a-04 10:00:00+00',
    '2026-12-04 10:0:00+00',
    ' 2026-12-04 10:00:00+00',
    '2026-12-04 10:00:00+000',
    '+00',
    '',
    'not a date',
  ];
  return [...inputs, ...edges];
}

describe('read types', () => {
  it('parses UTC timestamps as node-postgres does, on random and edge-case inputs', () => {
    expect(disagreements(timestampInputs(), parseUtcTimestamp, pgTimestamp)).toEqual([]);
  });

  it("writes the JSON node-postgres's Date writes, for every timestamp it reads", () => {
    const differing = timestampInputs()
      .map((input) => ({ input, fast: outcome(parseUtcTimestamp, input), pg: outcome(pgTimestamp, input) }))
      .filter(({ fast, pg }) => JSON.stringify(fast) !== JSON.stringify(pg));
    expect(differing).toEqual([]);
    const row = { at: parseUtcTimestamp('2026-12-04 10:00:00.123456+00') };
    expect(JSON.stringify(row)).toBe('{"at":"2026-12-04T10:00:00.123Z"}'); // Date keeps whole milliseconds
  });

  it('answers a Date, whose JSON follows a change made after it was read', () => {
    const read = parseUtcTimestamp('2026-12-04 10:00:00.5+00') as Date;
    expect(read).toBeInstanceOf(Date);
    expect(Object.keys(read)).toEqual([]);
    expect(read.toJSON()).toBe('2026-12-04T10:00:00.500Z');
    read.setUTCFullYear(2030);
    expect(JSON.stringify(read)).toBe('"2030-12-04T10:00:00.500Z"');
    read.setTime(Number.NaN);
    expect(JSON.stringify(read)).toBe('null');
  });

  it("compares and prints as a plain Date in users' tests and logs", () => {
    const read = parseUtcTimestamp('2026-12-04 10:00:00.5+00');
    const date = new Date('2026-12-04T10:00:00.500Z');
    // A user's unit test of a generated row: toStrictEqual compares constructors.
    expect({ createdAt: read }).toStrictEqual({ createdAt: date });
    expect(inspect(read)).toBe(inspect(date));
    expect(inspect({ at: read })).toBe(inspect({ at: date }));
    expect((read as Date).constructor).toBe(Date);
  });

  it('parses int2 and int4 arrays as node-postgres does, on random and edge-case inputs', () => {
    const next = random(11);
    const inputs: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const count = Math.floor(next() * 12);
      const entries = Array.from({ length: count }, () => {
        const magnitude = Math.floor(next() * 2 ** Math.floor(next() * 32));
        return next() < 0.2 ? -magnitude : magnitude;
      });
      inputs.push(`{${entries.join(',')}}`);
    }
    const edges = [
      '{}',
      '{0}',
      '{-0}',
      '{2147483647,-2147483648}',
      '{32767,-32768}',
      '{007,010}',
      '{99999999999}',
      '{1,NULL,3}',
      '{NULL}',
      '{1,,3}',
      '{1,}',
      '{,1}',
      '{-}',
      '{--1}',
      '{1-2}',
      '{ 1, 2 }',
      '{"1","2"}',
      '{{1,2},{3,4}}',
      '[0:1]={5,6}',
      '{1,2',
      '1,2}',
      '{',
      '}',
      '{}}',
      '{+1}',
      '{1.5}',
      '',
      'x',
    ];
    expect(disagreements([...inputs, ...edges], parseIntegerArray, pgIntArray)).toEqual([]);
  });

  it('answers pg own parsers for every other type and for the binary format', () => {
    for (const oid of [16, 20, 21, 23, 25, 114, 700, 701, 1082, 1114, 1700, 3802, 1016, 1009, 2950]) {
      expect(readParser(oid, 'text')).toBe(pgParser(oid, 'text'));
      expect(readParser(oid)).toBe(pgParser(oid));
    }
    for (const oid of [1184, 1005, 1007]) {
      expect(readParser(oid, 'binary')).toBe(pgParser(oid, 'binary'));
    }
    expect(readParser(1184, 'text')).toBe(parseUtcTimestamp);
    expect(readParser(1005)).toBe(parseIntegerArray);
    expect(readParser(1007, 'text')).toBe(parseIntegerArray);
  });
});
