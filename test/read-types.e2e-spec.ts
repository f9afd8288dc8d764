import { Client, types } from 'pg';
import { READ_TYPES } from 'src/framework/database/read-types';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';

/**
 * The prepared reads' fast parsers (READ_TYPES) must answer what node-postgres's own parsers answer
 * (what `dataSource.query`, the unprepared path, answers) for every value a user can store, in every session
 * time zone: same JSON, same time, same kind of value.
 */
describe('READ_TYPES against node-postgres on a real server', () => {
  let db: TestDatabase;
  let client: Client;

  const TIMESTAMPS = [
    '2026-12-04 10:00:00+00',
    '2026-12-04 10:00:00.1+00',
    '2026-12-04 10:00:00.12+00',
    '2026-12-04 10:00:00.123+00',
    '2026-12-04 10:00:00.1234+00',
    '2026-12-04 10:00:00.12345+00',
    '2026-12-04 10:00:00.123456+00',
    '2026-12-04 10:00:00.999999+00',
    '2024-02-29 23:59:59.9995+00',
    '2026-07-01 00:30:00+00',
    '1850-01-01 00:00:00+00',
    '0999-12-31 23:59:59+00',
    '0050-06-01 12:00:00+00',
    '0001-01-01 00:00:00+00',
    '9999-12-31 23:59:59.999999+00',
    '10000-01-01 00:00:00+00',
    '0044-03-15 12:00:00+00 BC',
    'infinity',
    '-infinity',
  ];

  beforeAll(async () => {
    db = await createTestDatabase('read_types');
    client = new Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  async function both(text: string): Promise<{ fast: unknown[]; plain: unknown[] }> {
    const fast = (await client.query({ text, types: READ_TYPES, rowMode: 'array' })).rows[0] as unknown[];
    const plain = (await client.query({ text, rowMode: 'array' })).rows[0] as unknown[];
    return { fast, plain };
  }

  function describeValue(value: unknown): unknown {
    if (value instanceof Date) {
      return {
        time: value.getTime(),
        json: JSON.stringify(value),
        iso: Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString(),
      };
    }
    return value;
  }

  for (const zone of ['UTC', 'Europe/Paris', 'America/St_Johns', 'Asia/Kolkata']) {
    it(`timestamptz, timestamp, date in session TimeZone ${zone}`, async () => {
      await client.query(`SET TimeZone = '${zone}'`);
      const literals = TIMESTAMPS.map((v) => `'${v}'::timestamptz`);
      const plainTs = TIMESTAMPS.map((v) => `'${v.replace('+00', '')}'::timestamp`);
      const dates = ['2026-12-04', '0999-01-01', '0044-03-15 BC', 'infinity'].map((v) => `'${v}'::date`);
      const text = `SELECT ${[...literals, ...plainTs, ...dates, 'NULL::timestamptz'].join(', ')}`;
      const { fast, plain } = await both(text);
      expect(fast.map(describeValue)).toEqual(plain.map(describeValue));
      expect(JSON.stringify(fast)).toBe(JSON.stringify(plain));
    });
  }

  it('integer arrays: NULLs, negatives, bounds, empty, multi-dimensional, int2, int8', async () => {
    await client.query(`SET TimeZone = 'UTC'`);
    const { fast, plain } = await both(
      `SELECT '{1,NULL,-3}'::int4[], '{}'::int4[], '{-2147483648,2147483647,0}'::int4[], '{{1,2},{3,-4}}'::int4[],
        '{-32768,32767}'::int2[], '{NULL}'::int2[], '{9007199254740993,-1}'::int8[], NULL::int4[],
        '[0:1]={5,6}'::int4[], ARRAY[]::int4[]`,
    );
    expect(fast).toEqual(plain);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(plain));
  });

  it("honours a type parser the app set globally with pg's types.setTypeParser (as dataSource.query does)", async () => {
    await client.query(`SET TimeZone = 'UTC'`);
    const before = types.getTypeParser(1184, 'text') as (value: string) => unknown;
    types.setTypeParser(1184, (value: string) => value); // keep timestamptz as PostgreSQL's text
    try {
      const { fast, plain } = await both(`SELECT '2026-12-04 10:00:00.123456+00'::timestamptz`);
      expect(plain[0]).toBe('2026-12-04 10:00:00.123456+00');
      expect(fast[0]).toBe(plain[0]);
    } finally {
      types.setTypeParser(1184, before);
    }
  });
});
