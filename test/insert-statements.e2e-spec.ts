import { Column, CreateDateColumn, DataSource, Entity, PrimaryGeneratedColumn, VersionColumn } from 'typeorm';
import { InsertStatements } from 'src/framework/resource/insert-statements';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';

const upper = {
  to: (v?: string | null) => (typeof v === 'string' ? v.toUpperCase() : v),
  from: (v: unknown) => v,
};
/** Gives a value where the input has none: the prepared values, not the input, decide the shape. */
const orNone = { to: (v?: string | null) => v ?? 'none', from: (v: unknown) => v };

@Entity('gadget')
class Gadget {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 50 }) name!: string;
  @Column({ type: 'varchar', nullable: true }) note!: string | null;
  @Column({ type: 'int', default: 7 }) stock!: number;
  @Column({ type: 'varchar', nullable: true, transformer: upper }) code!: string | null;
  @Column({ type: 'varchar', transformer: orNone }) tag!: string;
  @Column({ type: 'timestamptz', nullable: true }) seenAt!: Date | null;
  @Column({ type: 'jsonb', nullable: true }) extra!: unknown;
  @Column({ type: 'varchar', nullable: true, insert: false }) frozen!: string | null;
  @VersionColumn() version!: number;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
}

const RETURNING = '"id", "name", "note", "stock", "code", "tag", "seenAt", "extra", "frozen", "version"';

/**
 * The one-statement create's INSERT is cached per shape (InsertStatements): for every shape it must be
 * the statement and parameters TypeORM's query builder writes, and store the same row.
 */
describe('InsertStatements (cached INSERT per shape)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = new DataSource({
      type: 'postgres',
      url: db.url,
      poolSize: 2,
      entities: [Gadget],
      synchronize: true,
    });
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  function byBuilder(values: Record<string, unknown>): [string, unknown[]] {
    const [sql, params] = dataSource
      .createQueryBuilder()
      .insert()
      .into(Gadget)
      .values(values)
      .returning(RETURNING)
      .updateEntity(false)
      .getQueryAndParameters();
    return [sql, params as unknown[]];
  }

  async function stored(statement: [string, unknown[]]): Promise<Record<string, unknown>> {
    const [row] = await dataSource.query<Record<string, unknown>[]>(...statement);
    const { id: _id, ...rest } = row;
    return rest;
  }

  const inputs: Record<string, unknown>[] = [
    {
      name: 'all',
      note: 'n',
      stock: 3,
      code: 'ab',
      tag: 't',
      seenAt: new Date('2024-05-01T12:00:00Z'),
      extra: { a: [1] },
    },
    { name: 'fewest' },
    { name: 'nulls', note: null, code: null, seenAt: null, extra: null },
    { name: 'defaults', stock: 0, tag: 'x' },
    { name: 'transformed', code: 'mixed Case' },
    { name: 'given a version', version: 5 },
  ];

  it('writes, from the second time a shape comes, the builder statement and stores the same row', async () => {
    const sut = new InsertStatements(dataSource, dataSource.getMetadata(Gadget));
    for (const first of inputs) {
      sut.build(first, RETURNING);
      const again = { ...first, name: `${String(first.name)} again` };
      const spy = jest.spyOn(dataSource, 'createQueryBuilder');
      const cached = sut.build(again, RETURNING);
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
      const built = byBuilder(again);
      expect(cached).toEqual(built);
      expect(await stored(cached)).toEqual(await stored(built));
    }
  });

  it('keeps shapes apart: a value in one request is not dropped by a statement cached without it', async () => {
    const sut = new InsertStatements(dataSource, dataSource.getMetadata(Gadget));
    sut.build({ name: 'short' }, RETURNING);
    const row = await stored(sut.build({ name: 'long', note: 'kept', stock: 9 }, RETURNING));
    expect(row).toMatchObject({ name: 'long', note: 'kept', stock: 9, tag: 'none', version: 1 });
  });

  it('leaves to the builder, every time, values that are SQL and columns the builder does not insert', async () => {
    const sut = new InsertStatements(dataSource, dataSource.getMetadata(Gadget));
    const spy = jest.spyOn(dataSource, 'createQueryBuilder');
    for (const values of [{ name: () => "'raw sql'" }, { name: 'f', frozen: 'no' }]) {
      for (let i = 0; i < 2; i++) {
        expect(sut.build(values, RETURNING)).toEqual(byBuilder(values));
      }
    }
    expect(spy).toHaveBeenCalledTimes(8);
    spy.mockRestore();
    expect(await stored(sut.build({ name: () => "'raw sql'" }, RETURNING))).toMatchObject({
      name: 'raw sql',
    });
    expect(await stored(sut.build({ name: 'f', frozen: 'no' }, RETURNING))).toMatchObject({ frozen: null });
  });
});
