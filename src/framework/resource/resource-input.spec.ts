import { Max, Min } from 'class-validator';
import { Column, Entity, JoinTable, ManyToMany, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { ProblemFieldError } from 'src/framework/http/problem';
import { ProblemException } from 'src/framework/http/problem';
import { resolveResource } from 'src/framework/resource/resource-definition';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { parseInput } from 'src/framework/resource/resource-input';
import { metadataOnly } from 'test/support/entity-metadata';

enum Size {
  Small = 'small',
  Large = 'large',
}

@Entity('input_spec_tag')
class Tag {
  @PrimaryGeneratedColumn('uuid')
  id!: string;
}

@Entity('input_spec_owner')
class Owner {
  @PrimaryGeneratedColumn()
  id!: number;
}

@Entity('input_spec_item')
class Item {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 5 })
  code!: string;

  @Column({ type: 'text', nullable: true })
  note!: string | null;

  @Column({ type: 'int' })
  @Min(1)
  @Max(100)
  quantity!: number;

  @Column({ type: 'smallint', default: 0 })
  rank!: number;

  @Column({ type: 'bigint', default: 0 })
  views!: string;

  @Column({ type: 'double precision', default: 0 })
  weight!: number;

  @Column({ type: 'numeric', precision: 5, scale: 2, default: 0 })
  price!: string;

  @Column({ type: 'boolean', default: false })
  active!: boolean;

  @Column({ type: 'enum', enum: Size, default: Size.Small })
  size!: Size;

  @Column({ type: 'date', nullable: true })
  releasedOn!: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  releasedAt!: Date | null;

  @Column({ type: 'uuid', nullable: true })
  ref!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  extra!: unknown;

  @ManyToOne(() => Owner, { nullable: true })
  owner!: Owner | null;

  @ManyToMany(() => Tag)
  @JoinTable({ name: 'input_spec_item_tags' })
  tags!: Tag[];
}

let sut: ResourceDefinition;

beforeAll(async () => {
  const dataSource = await metadataOnly([Tag, Owner, Item]);
  sut = resolveResource('ItemResource', { entity: Item, options: {} }, dataSource.getMetadata(Item), {});
});

const UUID = '0B9F6C2E-3C55-4F11-9D7E-2A1C0E7F4B21';

/** The `errors` of the 422 `parseInput` throws (the test fails if it resolves). */
async function inputErrors(body: unknown, partial = false): Promise<ProblemFieldError[]> {
  const error = await parseInput(sut, body, partial).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ProblemException)) {
    throw new Error(`expected a 422, got ${String(error)}`);
  }
  expect(error.problem.status).toBe(422);
  return error.problem.errors ?? [];
}

describe('parseInput', () => {
  it('stores each type as its column wants it: bigint and decimal as text, uuid lowercased, timestamps as Date', async () => {
    const input = await parseInput(
      sut,
      {
        code: 'AB',
        quantity: 3,
        views: 9007199254740993n.toString(),
        weight: 1.5,
        price: 12.5,
        active: true,
        size: 'large',
        releasedOn: '2024-05-01',
        releasedAt: '2024-05-01T12:00:00Z',
        ref: UUID,
        extra: { any: ['thing'] },
        note: null,
        ownerId: 7,
        tagIds: [UUID, UUID.toLowerCase()],
      },
      false,
    );
    expect(input.values).toEqual({
      code: 'AB',
      quantity: 3,
      views: '9007199254740993',
      weight: 1.5,
      price: '12.5',
      active: true,
      size: 'large',
      releasedOn: '2024-05-01',
      releasedAt: new Date('2024-05-01T12:00:00Z'),
      ref: UUID.toLowerCase(),
      extra: { any: ['thing'] },
      note: null,
      owner: 7,
    });
    // A set: the same id twice (in any case) is stored once.
    expect([...input.many.values()]).toEqual([[UUID.toLowerCase()]]);
  });

  it('lists every problem in body order, then missing required fields', async () => {
    const errors = await inputErrors({
      nope: 1,
      id: 4,
      code: 'TOO LONG',
      rank: 40_000,
      views: '1e3',
      price: '1234.5',
      active: 'yes',
      size: 'medium',
      releasedOn: '2024-02-30',
      releasedAt: '2024-05-01T12:00:00',
      ref: 'not-a-uuid',
      weight: Number.NaN,
      tagIds: ['x', UUID],
      'a/b~c': true,
    });
    expect(errors.map((e) => [e.pointer, e.code])).toEqual([
      ['/nope', 'unknown'],
      ['/id', 'readOnly'],
      ['/code', 'maxLength'],
      ['/rank', 'type'],
      ['/views', 'type'],
      ['/price', 'maxDigits'],
      ['/active', 'type'],
      ['/size', 'enum'],
      ['/releasedOn', 'type'],
      ['/releasedAt', 'type'],
      ['/ref', 'type'],
      ['/weight', 'type'],
      ['/tagIds/0', 'type'],
      ['/a~1b~0c', 'unknown'],
      ['/quantity', 'required'],
    ]);
    expect(errors.find((e) => e.pointer === '/rank')?.message).toBe(
      'rank must be an integer from -32,768 to 32,767',
    );
  });

  it('refuses null for a non-nullable field and a list that is not an array of ids', async () => {
    const errors = await inputErrors({ quantity: null, tagIds: 'x' }, true);
    expect(errors).toEqual([
      { pointer: '/quantity', code: 'required', message: 'quantity must not be null' },
      { pointer: '/tagIds', code: 'type', message: 'tagIds must be an array of at most 1000 ids' },
    ]);
  });

  it("applies the entity's class-validator rules only to values that passed the type checks", async () => {
    expect((await inputErrors({ quantity: 500 }, true)).map((e) => [e.pointer, e.code])).toEqual([
      ['/quantity', 'max'],
    ]);
    expect((await inputErrors({ quantity: 'many' }, true)).map((e) => [e.pointer, e.code])).toEqual([
      ['/quantity', 'type'],
    ]);
  });

  it('takes a partial update without the required fields', async () => {
    await expect(parseInput(sut, { rank: 2 }, true)).resolves.toEqual({
      values: { rank: 2 },
      many: new Map(),
    });
  });

  it.each([[null], [[1]], ['text']])('refuses a body that is not a JSON object: %j', async (body) => {
    expect(await inputErrors(body)).toEqual([
      { pointer: '', code: 'type', message: 'the body must be a JSON object' },
    ]);
  });
});
