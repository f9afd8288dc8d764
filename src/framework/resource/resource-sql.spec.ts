import {
  Column,
  DeleteDateColumn,
  Entity,
  JoinTable,
  ManyToMany,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { resolveResource } from 'src/framework/resource/resource-definition';
import { selectList } from 'src/framework/resource/resource-sql';
import { metadataOnly } from 'test/support/entity-metadata';

@Entity('sql_tag')
class Tag {
  @PrimaryGeneratedColumn()
  id!: number;
}

@Entity('sql_badge')
class Badge {
  @PrimaryGeneratedColumn()
  id!: number;

  @DeleteDateColumn()
  deletedAt!: Date | null;
}

@Entity('sql_code')
class Code {
  @PrimaryColumn({ type: 'varchar', length: 8 })
  code!: string;

  @Column({ type: 'varchar', length: 20, unique: true })
  slug!: string;
}

@Entity('sql_item')
class Item {
  @PrimaryGeneratedColumn()
  id!: number;

  @ManyToMany(() => Tag)
  @JoinTable({ name: 'sql_item_tags' })
  tags!: Tag[];

  @ManyToMany(() => Badge)
  @JoinTable({ name: 'sql_item_badges' })
  badges!: Badge[];

  @ManyToMany(() => Tag, { createForeignKeyConstraints: false })
  @JoinTable({ name: 'sql_item_loose_tags' })
  looseTags!: Tag[];

  @ManyToMany(() => Code)
  @JoinTable({
    name: 'sql_item_codes',
    inverseJoinColumn: { name: 'codeSlug', referencedColumnName: 'slug' },
  })
  codes!: Code[];

  @ManyToMany(() => Code)
  @JoinTable({ name: 'sql_item_plain_codes' })
  plainCodes!: Code[];
}

let arrays: Map<string, string>;

beforeAll(async () => {
  const dataSource = await metadataOnly([Tag, Badge, Code, Item]);
  const definition = resolveResource(
    'ItemResource',
    { entity: Item, options: {} },
    dataSource.getMetadata(Item),
    {},
  );
  // One select item per field; the to-many id arrays are the ones this spec is about.
  arrays = new Map(
    selectList(definition.readable)
      .split(/, (?=ARRAY\(|t\.)/)
      .filter((item) => item.startsWith('ARRAY('))
      .map((item) => [/ AS "(\w+)"$/.exec(item)![1], item]),
  );
});

describe('selectList: many-to-many id arrays', () => {
  it('reads the ids from the junction alone when its foreign key guarantees each target exists', () => {
    expect(arrays.get('tagIds')).toBe(
      'ARRAY(SELECT j0."sqlTagId" FROM "sql_item_tags" j0 WHERE j0."sqlItemId" = t."id" ORDER BY j0."sqlTagId") AS "tagIds"',
    );
    expect(arrays.get('plainCodeIds')).toBe(
      'ARRAY(SELECT j0."sqlCodeCode" FROM "sql_item_plain_codes" j0 WHERE j0."sqlItemId" = t."id" ORDER BY j0."sqlCodeCode") AS "plainCodeIds"',
    );
  });

  it('joins the target when it soft-deletes, so a deleted target stays hidden', () => {
    expect(arrays.get('badgeIds')).toBe(
      'ARRAY(SELECT r0."id" FROM "sql_item_badges" j0 JOIN "sql_badge" r0 ON r0."id" = j0."sqlBadgeId" WHERE j0."sqlItemId" = t."id" AND r0."deletedAt" IS NULL ORDER BY r0."id") AS "badgeIds"',
    );
  });

  it('joins the target when no foreign key keeps the junction from naming a row that is gone', () => {
    expect(arrays.get('looseTagIds')).toContain('JOIN "sql_tag" r0 ON r0."id" = j0."sqlTagId"');
  });

  it("joins the target when the junction references another column than the target's primary key", () => {
    expect(arrays.get('codeIds')).toBe(
      'ARRAY(SELECT r0."code" FROM "sql_item_codes" j0 JOIN "sql_code" r0 ON r0."slug" = j0."codeSlug" WHERE j0."sqlItemId" = t."id" ORDER BY r0."code") AS "codeIds"',
    );
  });
});
