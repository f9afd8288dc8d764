import { Module } from '@nestjs/common';
import {
  Column,
  DataSource,
  DeleteDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { User } from 'src/framework/auth/user.entity';
import { Resource } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { TestApp, TestDatabase, createTestApp, createTestDatabase } from 'src/framework/testing';
import { appWith } from 'test/support/app-with';

/** Sort keys whose cursors need care: a wall-clock timestamp, floats and numerics that may be NaN or ±Infinity. */
@Entity('sample_reading')
class Reading {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'timestamp' }) takenAt!: Date;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ type: 'double precision', nullable: true }) ratio!: number | null;
  @Column({ type: 'numeric', nullable: true }) amount!: string | null;
  @Column({ type: 'text', nullable: true }) note!: string | null;
}

@Resource(Reading, { path: 'readings', estimateCountAbove: 5 })
class ReadingResource {}

/** Soft-deletable, with a sort key too long for a cursor: its cursors name rows. */
@Entity('sample_memo')
class Memo {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text' }) body!: string;
  @DeleteDateColumn({ type: 'timestamptz' }) deletedAt!: Date | null;
}

@Resource(Memo, { path: 'memos' })
class MemoResource {}

/** Owned by its author, with a sort key too long for a cursor: its cursors name rows. */
@Entity('sample_letter')
class Letter {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text' }) body!: string;
  @ManyToOne(() => User, { nullable: false })
  @JoinColumn({ name: 'authorId' })
  author!: User;
  @Column({ type: 'int' }) authorId!: number;
}

@Resource(Letter, { path: 'letters', owner: 'author' })
class LetterResource {}

@Module({ imports: [ResourceModule.forFeature([ReadingResource, MemoResource, LetterResource])] })
class ReadingsModule {}

const DDL = `CREATE TABLE sample_reading (id serial PRIMARY KEY, "takenAt" timestamp NOT NULL,
  at timestamptz NOT NULL, ratio double precision, amount numeric, note text);
  CREATE TABLE sample_memo (id serial PRIMARY KEY, body text NOT NULL, "deletedAt" timestamptz);
  INSERT INTO sample_memo (body) SELECT repeat('m', 9000) || lpad(i::text, 3, '0') FROM generate_series(1, 8) i;
  CREATE TABLE sample_letter (id serial PRIMARY KEY, body text NOT NULL, "authorId" int NOT NULL REFERENCES "user"(id))`;

/** Ratios and amounts with every special value PostgreSQL sorts: NaN above all numbers, NULL above NaN. */
const RATIOS = ['-Infinity', '-1.5', '0', '2.25', 'Infinity', 'NaN', 'NaN', null, '7', '-0.5', 'NaN', '3'];

interface Page {
  data: { id: number }[];
  meta: { total: number; totalEstimated?: true; pageCount: number; nextCursor: string | null };
}

/**
 * Following `meta.nextCursor` must visit every row once, in the order of the same list read in one page, for
 * every sort key type; and an estimated total must not contradict the page it comes with. The database's
 * session time zone is not UTC (Kathmandu, +05:45), as on a server configured for local time.
 */
describe('list cursors and totals', () => {
  let db: TestDatabase;
  let t: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    const url = new URL(db.url);
    url.searchParams.set('options', '-c TimeZone=Asia/Kathmandu');
    t = await createTestApp(appWith(ReadingsModule), {
      as: 'superuser',
      env: { DATABASE_URL: url.toString(), RESOURCE_CACHE: 'off' },
    });
    const dataSource = t.app.get(DataSource);
    expect(await dataSource.query('SHOW TimeZone')).toEqual([{ TimeZone: 'Asia/Kathmandu' }]);
    await dataSource.query(DDL);
    // Readings 90 minutes apart (many hours cross the session's offset), two sharing each instant.
    await dataSource.query(
      `INSERT INTO sample_reading ("takenAt", at, ratio, amount)
       SELECT timestamp '2026-03-01 00:00:00.123456' + (i / 2) * interval '90 minutes',
              timestamptz '2026-03-01 00:00:00.123456Z' + (i / 2) * interval '90 minutes',
              r::double precision, r::numeric
       FROM unnest($1::text[]) WITH ORDINALITY AS v(r, i)`,
      [RATIOS],
    );
    // Notes too long for a cursor that carries them (9 KB each, over MAX_CURSOR_LENGTH once encoded).
    await dataSource.query(
      `UPDATE sample_reading SET note = repeat('n', 9000) || lpad((id % 7)::text, 3, '0')`,
    );
    await dataSource.query('ANALYZE sample_reading');
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  async function get(query: string): Promise<Page> {
    const res = await t.inject({ method: 'GET', url: `/api/readings?${query}` });
    expect({ status: res.statusCode, body: res.statusCode === 200 ? 'ok' : res.json<unknown>() }).toEqual({
      status: 200,
      body: 'ok',
    });
    return res.json<Page>();
  }

  /** The ids read by following nextCursor from the first page. */
  async function walk(sort: string, limit: number): Promise<number[]> {
    const ids: number[] = [];
    let page = await get(`sort=${sort}&limit=${limit}&fields=id`);
    ids.push(...page.data.map((row) => row.id));
    for (let hops = 0; page.meta.nextCursor !== null; hops++) {
      expect(hops).toBeLessThan(RATIOS.length);
      page = await get(`sort=${sort}&limit=${limit}&fields=id&after=${page.meta.nextCursor}`);
      ids.push(...page.data.map((row) => row.id));
    }
    return ids;
  }

  it.each(['takenAt', '-takenAt', 'at', '-at', 'ratio', '-ratio', 'amount', '-amount', 'note', '-note'])(
    'sort=%s: pages of 2 follow the one-page order',
    async (sort) => {
      const all = (await get(`sort=${sort}&limit=100&fields=id`)).data.map((row) => row.id);
      expect(all).toHaveLength(RATIOS.length);

      expect(await walk(sort, 2)).toEqual(all);
    },
  );

  it('answers an exact total on the last page, and no estimate below the rows a page shows', async () => {
    // The planner's estimate stands in on the first page (12 rows are above estimateCountAbove: 5).
    const first = await get('limit=5&page=1&fields=id');
    expect(first.meta).toMatchObject({ total: 12, totalEstimated: true });

    const last = await get('limit=5&page=3&fields=id');
    expect(last.data).toHaveLength(2);
    expect(last.meta).toMatchObject({ total: 12, pageCount: 3 });
    expect(last.meta.totalEstimated).toBeUndefined();

    const beyond = await get('limit=5&page=9&fields=id');
    expect(beyond.meta.total).toBeLessThanOrEqual(40);
  });

  it('names the row by id when its sort values are too long for a cursor; a deleted row is a 400', async () => {
    const page = await get('sort=-note&limit=3&fields=id');
    const cursor = page.meta.nextCursor!;
    expect(cursor.length).toBeLessThan(200);
    const next = await get(`sort=-note&limit=3&fields=id&after=${cursor}`);
    expect(next.data).toHaveLength(3);
    // Another sort's cursor is refused, as one carrying values would be.
    const other = await t.inject({ method: 'GET', url: `/api/readings?sort=note&after=${cursor}` });
    expect(other.statusCode).toBe(400);

    await t.app.get(DataSource).query('DELETE FROM sample_reading WHERE id = $1', [page.data[2].id]);
    const gone = await t.inject({ method: 'GET', url: `/api/readings?sort=-note&limit=3&after=${cursor}` });
    expect(gone.statusCode).toBe(400);
    expect(gone.json()).toMatchObject({
      type: 'urn:nestor:problem:bad-query',
      errors: [{ parameter: 'after', code: 'invalid', message: expect.stringMatching(/first page/) }],
    });
  });

  it('a cursor naming a soft-deleted row is refused unless the list shows the trash', async () => {
    const read = (query: string) =>
      t.inject({ method: 'GET', url: `/api/memos?sort=-body&limit=3&fields=id&${query}` });
    const first = (await read('')).json<Page>();
    const cursor = first.meta.nextCursor!;
    expect(cursor.length).toBeLessThan(200); // it names the row
    const deleted = first.data[2].id;
    expect((await t.inject({ method: 'DELETE', url: `/api/memos/${deleted}` })).statusCode).toBe(204);

    const live = await read(`after=${cursor}`);
    expect(live.statusCode).toBe(400);
    expect(live.json()).toMatchObject({
      errors: [{ parameter: 'after', message: expect.stringMatching(/first page/) }],
    });
    // With the trash in sight the row is there to continue from: the rows after it, as before the delete.
    const trash = await read(`after=${cursor}&trashed=with`);
    expect(trash.statusCode).toBe(200);
    expect(trash.json<Page>().data.map((row) => row.id)).toEqual([5, 4, 3]);

    // A cursor made up to name the deleted row (the order of a hidden row's sort values) tells nothing either.
    const [signature] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string];
    const crafted = Buffer.from(JSON.stringify([signature, { row: deleted }])).toString('base64url');
    expect((await read(`after=${crafted}`)).statusCode).toBe(400);
  });

  it("on an owned resource a cursor naming another caller's row is refused", async () => {
    const [alice, bob] = [await t.createUser(), await t.createUser()];
    // Interleaved, so that each one's rows sit between the other's in the sort.
    await t.app.get(DataSource).query(
      `INSERT INTO sample_letter (body, "authorId")
       SELECT repeat('l', 9000) || lpad(i::text, 3, '0'), CASE WHEN i % 2 = 0 THEN $1::int ELSE $2::int END
       FROM generate_series(1, 8) i`,
      [alice.id, bob.id],
    );
    const read = (user: typeof alice, query: string) =>
      t.actingAs(user).inject(`/api/letters?sort=-body&limit=2&fields=id&${query}`);
    const walk = async (user: typeof alice) => {
      const ids: number[] = [];
      let page = (await read(user, '')).json<Page>();
      ids.push(...page.data.map((row) => row.id));
      while (page.meta.nextCursor !== null) {
        expect(page.meta.nextCursor.length).toBeLessThan(200); // it names the row
        page = (await read(user, `after=${page.meta.nextCursor}`)).json<Page>();
        ids.push(...page.data.map((row) => row.id));
      }
      return ids;
    };
    const alices = await walk(alice);
    expect(alices).toHaveLength(4);

    const first = (await read(alice, '')).json<Page>();
    const borrowed = await read(bob, `after=${first.meta.nextCursor}`);
    expect(borrowed.statusCode).toBe(400);
    expect(borrowed.json()).toMatchObject({ errors: [{ parameter: 'after', code: 'invalid' }] });
    expect((await walk(bob)).filter((id) => alices.includes(id))).toEqual([]);
  });
});
