import { Min } from 'class-validator';
import {
  Column,
  CreateDateColumn,
  DataSource,
  DeleteDateColumn,
  Entity,
  Generated,
  JoinColumn,
  JoinTable,
  ManyToMany,
  ManyToOne,
  OneToMany,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
  VirtualColumn,
} from 'typeorm';
import {
  ResourceDeclarationError,
  ResourceDefinition,
  resolveResource,
} from 'src/framework/resource/resource-definition';
import { Resource, ResourceOptions, defaultResourcePath } from 'src/framework/resource/resource.decorator';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { asMoney } from 'src/framework/resource/resource-versions';
import { metadataOnly } from 'test/support/entity-metadata';

enum BookStatus {
  Draft = 'draft',
  Published = 'published',
}

@Entity('spec_region')
class Region {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 60 })
  name!: string;
}

@Entity('spec_country')
class Country {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 2 })
  code!: string;

  @ManyToOne(() => Region, { nullable: true })
  region!: Region | null;
}

/** No @DeleteDateColumn: restore and soft delete are refused. */
@Entity('spec_publisher')
class Publisher {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @ManyToOne(() => Country, { nullable: false })
  country!: Country;
}

@Entity('spec_label')
class Label {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40 })
  name!: string;
}

@Entity('spec_genre')
class Genre {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 40 })
  name!: string;
}

@Entity('spec_book')
class Book {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  title!: string;

  @Column({ type: 'text', nullable: true })
  summary!: string | null;

  @Column({ type: 'numeric', precision: 10, scale: 2 })
  price!: string;

  @Column({ type: 'int', default: 0 })
  stock!: number;

  @Column({ type: 'enum', enum: BookStatus, default: BookStatus.Draft })
  status!: BookStatus;

  @Column({ type: 'boolean', default: false })
  featured!: boolean;

  @Column({ type: 'jsonb', nullable: true })
  attributes!: Record<string, unknown> | null;

  @Column({ type: 'varchar', length: 8, nullable: true })
  pin!: string | null;

  @Column({ type: 'varchar', length: 200, default: '' })
  internalNote!: string;

  /** Computed by PostgreSQL: never writable. */
  @Column({
    type: 'numeric',
    precision: 12,
    scale: 2,
    generatedType: 'STORED',
    asExpression: '"price" * "stock"',
  })
  stockValue!: string;

  @Column({ type: 'uuid' })
  @Generated('uuid')
  externalId!: string;

  /** Computed by TypeORM with a subquery: no table column, so not a field. */
  @VirtualColumn({
    type: 'int',
    query: (alias) => `SELECT count(*) FROM spec_review r WHERE r."bookId" = ${alias}.id`,
  })
  reviewCount!: number;

  @ManyToOne(() => Publisher, { nullable: false })
  @JoinColumn({ name: 'publisherId' })
  publisher!: Publisher;

  @Column({ type: 'int' })
  publisherId!: number;

  /** No explicit column: exposed as `editorId`. */
  @ManyToOne(() => Publisher, { nullable: true })
  editor!: Publisher | null;

  @ManyToMany(() => Label)
  @JoinTable({ name: 'spec_book_labels' })
  labels!: Label[];

  @ManyToMany(() => Genre)
  @JoinTable({ name: 'spec_book_categories' })
  categories!: Genre[];

  @OneToMany(() => Review, (review) => review.book)
  reviews!: Review[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @VersionColumn()
  version!: number;

  @DeleteDateColumn({ type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}

@Entity('spec_review')
class Review {
  @PrimaryGeneratedColumn()
  id!: number;

  @ManyToOne(() => Book, (book) => book.reviews, { nullable: false })
  @JoinColumn({ name: 'bookId' })
  book!: Book;

  @Column({ type: 'int' })
  bookId!: number;

  @Column({ type: 'int' })
  rating!: number;
}

@Entity('spec_order_line')
class OrderLine {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'int' })
  quantity!: number;
}

@Entity('spec_pair')
class Pair {
  @PrimaryColumn({ type: 'int' })
  left!: number;

  @PrimaryColumn({ type: 'int' })
  right!: number;
}

@Entity('spec_bad_rule')
class BadRule {
  @PrimaryGeneratedColumn()
  id!: number;

  // class-validator's @Min compares numbers: on a decimal string it would refuse every write.
  @Column({ type: 'numeric', precision: 8, scale: 2 })
  @Min(0)
  amount!: string;
}

/** Keyed by a smallint: the `rackId` of a shelf is as narrow. */
@Entity('spec_rack')
class Rack {
  @PrimaryColumn({ type: 'smallint' })
  id!: number;
}

/** Array columns beside integers of each width, and a relation to reach both through. */
@Entity('spec_shelf')
class Shelf {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'smallint' })
  level!: number;

  @Column({ type: 'bigint', default: '0' })
  total!: string;

  @Column({ type: 'text', array: true, default: () => `'{}'` })
  tags!: string[];

  @Column({ type: 'int', array: true, nullable: true })
  scores!: number[] | null;

  @Column({
    type: 'enum',
    enum: BookStatus,
    enumName: 'spec_shelf_status',
    array: true,
    default: () => `'{}'`,
  })
  statuses!: BookStatus[];

  @ManyToOne(() => Rack, { nullable: false })
  rack!: Rack;

  @ManyToOne(() => Shelf, { nullable: true })
  parent!: Shelf | null;
}

let dataSource: DataSource;

beforeAll(async () => {
  dataSource = await metadataOnly([
    Region,
    Country,
    Publisher,
    Label,
    Genre,
    Book,
    Review,
    OrderLine,
    Pair,
    BadRule,
    Rack,
    Shelf,
  ]);
});

const resolve = (
  options: ResourceOptions = {},
  entity: new () => object = Book,
  className = `${entity.name}Resource`,
): ResourceDefinition => resolveResource(className, { entity, options }, dataSource.getMetadata(entity), {});

/** The error a declaration fails with (the test fails if it resolves). */
function declarationError(
  options: ResourceOptions,
  entity: new () => object = Book,
): ResourceDeclarationError {
  try {
    resolve(options, entity);
  } catch (error) {
    if (error instanceof ResourceDeclarationError) {
      return error;
    }
    throw error;
  }
  throw new Error(`resolved without a ResourceDeclarationError: ${JSON.stringify(options)}`);
}

const field = (definition: ResourceDefinition, name: string) => {
  const found = definition.fields.get(name);
  if (!found) {
    throw new Error(`no field ${name} (fields: ${[...definition.fields.keys()].join(', ')})`);
  }
  return found;
};

describe('resolveResource boot checks', () => {
  /** [title, options, option named in the message, detail also in the message] */
  const cases: [string, ResourceOptions, string, string][] = [
    ['search', { search: ['titel'] }, '"search"', 'titel'],
    ['filter', { filter: { titel: true } }, '"filter"', 'titel'],
    ['filter through a relation', { filter: { 'publisher.nme': true } }, '"filter"', 'publisher.nme'],
    ['filter through a non-relation', { filter: { 'title.length': true } }, '"filter"', 'title'],
    ['sort', { sort: ['titel'] }, '"sort"', 'titel'],
    ['sort through a relation', { sort: ['publisher.name'] }, '"sort"', 'publisher.name'],
    ['defaultSort', { defaultSort: '-titel' }, '"defaultSort"', 'titel'],
    ['defaultSort outside sort', { sort: ['title'], defaultSort: 'price' }, '"defaultSort"', 'price'],
    ['readOnly', { readOnly: ['titel'] }, '"readOnly"', 'titel'],
    ['hidden', { hidden: ['titel'] }, '"hidden"', 'titel'],
    ['writeOnly', { writeOnly: ['titel'] }, '"writeOnly"', 'titel'],
    ['admin.listDisplay', { admin: { listDisplay: ['title', 'titel'] } }, '"admin.listDisplay"', 'titel'],
    ['admin.titleField', { admin: { titleField: 'titel' } }, '"admin.titleField"', 'titel'],
    ['admin.readonlyFields', { admin: { readonlyFields: ['titel'] } }, '"admin.readonlyFields"', 'titel'],
    [
      'admin.fieldsets',
      { admin: { fieldsets: [{ fields: ['title', 'titel'] }] } },
      '"admin.fieldsets[0]"',
      'titel',
    ],
    [
      'admin.listFilter outside filter',
      { filter: { price: true }, admin: { listFilter: ['title'] } },
      '"admin.listFilter"',
      'title',
    ],
    [
      'admin.searchFields outside search',
      { admin: { searchFields: ['title'] } },
      '"admin.searchFields"',
      'title',
    ],
    [
      'admin.ordering outside sort',
      { sort: ['price'], admin: { ordering: '-title' } },
      '"admin.ordering"',
      'title',
    ],
    [
      'admin.autocompleteFields on a column',
      { admin: { autocompleteFields: ['title'] } },
      '"admin.autocompleteFields"',
      'title',
    ],
    [
      'search on a hidden field',
      { hidden: ['internalNote'], search: ['internalNote'] },
      '"search"',
      'internalNote',
    ],
    ['filter on a write-only field', { writeOnly: ['pin'], filter: { pin: true } }, '"filter"', 'pin'],
    ['search on a non-text field', { search: ['price'] }, '"search"', 'price'],
    ['the relation itself as a field', { filter: { publisher: true } }, '"filter"', 'publisher'],
    ['a nested relation as a field', { filter: { 'publisher.country': true } }, '"filter"', 'country'],
    ['a @VirtualColumn', { sort: ['reviewCount'] }, '"sort"', 'reviewCount'],
  ];

  it.each(cases)('NST-R001: unknown field in %s', (_title, options, option, detail) => {
    const error = declarationError(options);
    expect(error.code).toBe('NST-R001');
    expect(error.name).toBe('ResourceDeclarationError');
    expect(error.message).toMatch(/^NST-R001 BookResource: /);
    expect(error.message).toContain(option);
    expect(error.message).toContain(detail);
  });

  it('NST-R001 lists the known fields so the typo is easy to fix', () => {
    expect(declarationError({ hidden: ['titel'] }).message).toContain('title, summary, price');
  });

  it.each<[string, ResourceOptions, string, string]>([
    ['a column', { include: ['title'] }, '"include"', '"title" is not a relation of Book'],
    ['an unknown name', { include: ['publisherr'] }, '"include"', 'publisherr'],
    ['a nested non-relation', { include: ['publisher.name'] }, '"include"', 'not a relation of Publisher'],
    ['depth 3', { include: ['publisher.country.region'] }, '"include"', 'deeper than 2'],
    [
      'a filter path through 3 relations',
      { filter: { 'publisher.country.region.name': true } },
      '"filter"',
      'deeper than 2',
    ],
  ])('NST-R003: include of %s', (_title, options, option, detail) => {
    const error = declarationError(options);
    expect(error.code).toBe('NST-R003');
    expect(error.message).toMatch(/^NST-R003 BookResource: /);
    expect(error.message).toContain(option);
    expect(error.message).toContain(detail);
  });

  it.each<[string, ResourceOptions, string]>([
    ['gt on a string', { filter: { title: ['eq', 'gt'] } }, '"gt"'],
    ['contains on a boolean', { filter: { featured: ['contains'] } }, '"contains"'],
    ['between on an enum', { filter: { status: ['between'] } }, '"between"'],
    ['isnull on a NOT NULL column', { filter: { title: ['isnull'] } }, '"isnull"'],
    ['icontains through a relation on an integer', { filter: { 'labels.id': ['icontains'] } }, '"icontains"'],
    ['an operator that does not exist', { filter: { title: ['like' as 'eq'] } }, '"like"'],
  ])('NST-R004: %s', (_title, options, operator) => {
    const error = declarationError(options);
    expect(error.code).toBe('NST-R004');
    expect(error.message).toMatch(/^NST-R004 BookResource: option "filter" /);
    expect(error.message).toContain(operator);
  });

  it('NST-R004 names the type and the operators it supports', () => {
    expect(declarationError({ filter: { featured: ['gt'] } }).message).toContain(
      'a boolean field does not support (eq, ne)',
    );
  });

  it('NST-R006: a composite primary key', () => {
    const error = declarationError({}, Pair);
    expect(error.code).toBe('NST-R006');
    expect(error.message).toBe('NST-R006 PairResource: entity Pair must have exactly one primary column');
  });

  it.each<[string, ResourceOptions, string, string]>([
    ['ttl 0', { cache: { ttl: 0 } }, 'NST-R013', '"cache.ttl"'],
    ['a negative ttl', { cache: { ttl: -5 } }, 'NST-R013', '"cache.ttl"'],
    ['a fractional ttl', { cache: { ttl: 1.5 } }, 'NST-R013', '"cache.ttl"'],
    ['an unknown key', { cache: { ttl: 10, tll: 5 } as never }, 'NST-R013', 'tll'],
    ['maxAge above ttl', { cache: { ttl: 10, maxAge: 11 } }, 'NST-R014', '"cache.maxAge"'],
    ['a negative maxAge', { cache: { ttl: 10, maxAge: -1 } }, 'NST-R014', '"cache.maxAge"'],
    ['no get or list to cache', { cache: { ttl: 10 }, actions: ['create'] }, 'NST-R015', '"get" or "list"'],
  ])('cache: %s fails at boot', (_title, options, code, text) => {
    const error = declarationError(options);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(new RegExp(`^${code} BookResource: `));
    expect(error.message).toContain(text);
  });

  it('cache: resolves ttl and maxAge (default 0), and nothing without the option', () => {
    expect(resolve({ cache: { ttl: 60 } }).cache).toEqual({ ttlSeconds: 60, maxAge: 0 });
    expect(resolve({ cache: { ttl: 60, maxAge: 60 } }).cache).toEqual({ ttlSeconds: 60, maxAge: 60 });
    expect(resolve({}).cache).toBeUndefined();
  });

  it.each<[string, ResourceOptions, new () => object, string]>([
    ['a path with capitals', { path: 'Books' }, Book, '"path"'],
    ['a path with underscores', { path: 'book_items' }, Book, '"path"'],
    ['a path with a slash', { path: 'api/books' }, Book, '"path"'],
    ['an empty path', { path: '' }, Book, '"path"'],
    ['restore without soft delete', { actions: ['list', 'restore'] }, Publisher, '"restore"'],
    ['softDelete without a @DeleteDateColumn', { softDelete: true }, Publisher, '"softDelete"'],
    ['restore with soft delete turned off', { softDelete: false, actions: ['restore'] }, Book, '"restore"'],
    ['defaultLimit > maxLimit', { defaultLimit: 50, maxLimit: 10 }, Book, '"defaultLimit"'],
    ['defaultLimit 0', { defaultLimit: 0 }, Book, '"defaultLimit"'],
    ['a fractional maxLimit', { maxLimit: 10.5 }, Book, '"maxLimit"'],
  ])('NST-R007: %s', (_title, options, entity, option) => {
    const error = declarationError(options, entity);
    expect(error.code).toBe('NST-R007');
    expect(error.message).toMatch(new RegExp(`^NST-R007 ${entity.name}Resource: `));
    expect(error.message).toContain(option);
  });

  it('NST-R011: a rule the document could not state honestly', () => {
    const error = declarationError({}, BadRule);
    expect(error.code).toBe('NST-R011');
    expect(error.message).toContain(
      `field "amount": @Min(0) on a decimal string always fails: use @DecimalMin('0')`,
    );
  });

  it.each<[string, ResourceOptions, string]>([
    [
      'a version that is not a number',
      { versions: { v2: {} } },
      'option "versions.v2": a version is a number',
    ],
    ['a version 0', { versions: { 0: {} } }, '"versions.0"'],
    [
      'a representation of an unknown field',
      { versions: { 2: { fields: { prise: asMoney('EUR') } } } },
      '"versions.2.fields": "prise" is not a field',
    ],
    [
      'something that is not a representation',
      { versions: { 2: { fields: { price: {} as never } } } },
      '"versions.2.fields.price": expected a field representation',
    ],
    ['a date that is not one', { versions: { 1: { deprecated: 'soon' } } }, '"versions.1.deprecated"'],
    ['a sunset without deprecation', { versions: { 1: { sunset: '2027-06-30' } } }, 'needs an earlier'],
    [
      'a sunset before the deprecation',
      { versions: { 1: { deprecated: '2027-06-30', sunset: '2027-01-01' } } },
      'needs an earlier',
    ],
  ])('NST-R012: %s', (_title, options, message) => {
    const error = declarationError(options);
    expect(error.code).toBe('NST-R012');
    expect(error.message).toMatch(/^NST-R012 BookResource: /);
    expect(error.message).toContain(message);
  });

  it.each<[string, ResourceOptions, string]>([
    ['sort', { sort: ['level', 'tags'] }, 'option "sort" names "tags", an array column (text[])'],
    [
      'defaultSort',
      { defaultSort: '-statuses' },
      'option "defaultSort" names "statuses", an array column (enum[])',
    ],
    [
      'an explicit sort beside defaultSort',
      { sort: ['scores'], defaultSort: 'scores' },
      'option "sort" names "scores", an array column (int[])',
    ],
    [
      'filter: the default operators of a NOT NULL array',
      { filter: { tags: true } },
      'option "filter" names "tags", an array column (text[]): an array column can only be filtered by isnull, and only when nullable ("tags" is NOT NULL: leave it out of "filter")',
    ],
    [
      'filter: eq on an array',
      { filter: { scores: ['isnull', 'eq'] } },
      'option "filter" names "scores", an array column (int[]) with the operator "eq"',
    ],
    ['filter: contains on a text array', { filter: { tags: ['contains'] } }, 'with the operator "contains"'],
    ['filter: isnull on a NOT NULL array', { filter: { statuses: ['isnull'] } }, '"statuses" is NOT NULL'],
    [
      'filter: an array through a relation',
      { filter: { 'parent.tags': ['in'] } },
      'option "filter" names "parent.tags", an array column (text[]) with the operator "in"',
    ],
    ['search', { search: ['tags'] }, 'option "search" names "tags", an array column (text[])'],
  ])('NST-R018: an array column in %s', (_title, options, message) => {
    const error = declarationError(options, Shelf);
    expect(error.code).toBe('NST-R018');
    expect(error.message).toMatch(/^NST-R018 ShelfResource: /);
    expect(error.message).toContain(message);
  });

  it('refuses an unknown action', () => {
    const error = declarationError({ actions: ['list', 'purge' as 'list'] });
    expect(error.code).toBe('NST-R001');
    expect(error.message).toContain('"purge"');
  });
});

describe('resolveResource on a valid declaration', () => {
  it.each([
    ['Book', 'books'],
    ['OrderLine', 'order-lines'],
    ['OrderItem', 'order-items'],
    ['Category', 'categories'],
    ['Day', 'days'],
    ['Box', 'boxes'],
    ['Address', 'addresses'],
    ['Branch', 'branches'],
    ['HTTPLog', 'httplogs'],
  ])('pluralises %s to the default path %s', (name, path) => {
    expect(defaultResourcePath(name)).toBe(path);
  });

  it('uses the pluralised entity name as the path unless one is given', () => {
    expect(resolve().path).toBe('books');
    expect(resolve({}, OrderLine).path).toBe('order-lines');
    expect(resolve({ path: 'catalogue-books' }).path).toBe('catalogue-books');
  });

  it('names the class and the entity', () => {
    const definition = resolve();
    expect(definition.className).toBe('BookResource');
    expect(definition.name).toBe('Book');
    expect(definition.id.name).toBe('id');
  });

  it('exposes to-one relations as <relation>Id, with or without an explicit column', () => {
    const definition = resolve();
    expect(field(definition, 'publisherId')).toMatchObject({
      kind: 'toOneId',
      type: 'integer',
      nullable: false,
      required: true,
      writable: true,
      readable: true,
    });
    expect(field(definition, 'publisherId').relation?.propertyName).toBe('publisher');
    expect(field(definition, 'editorId')).toMatchObject({
      kind: 'toOneId',
      type: 'integer',
      nullable: true,
      required: false,
      writable: true,
    });
    expect(field(definition, 'editorId').relation?.propertyName).toBe('editor');
    expect(definition.fields.has('publisher')).toBe(false);
    expect(definition.fields.has('editor')).toBe(false);
  });

  it('exposes many-to-many relations as <relation>Ids, typed like the target key', () => {
    const definition = resolve();
    expect(field(definition, 'labelIds')).toMatchObject({
      kind: 'toManyIds',
      type: 'integer',
      required: false,
      writable: true,
      readable: true,
    });
    expect(field(definition, 'categoryIds')).toMatchObject({ kind: 'toManyIds', type: 'uuid' });
    // One-to-many relations are reached through include, never as writable ids.
    expect(definition.fields.has('reviewIds')).toBe(false);
    expect(definition.fields.has('reviews')).toBe(false);
  });

  it('requires NOT NULL columns without a default; nullable and defaulted ones are optional', () => {
    const definition = resolve();
    const required = [...definition.fields.values()].filter((f) => f.required).map((f) => f.name);
    expect(required.sort()).toEqual(['price', 'publisherId', 'title']);
    expect(field(definition, 'summary')).toMatchObject({ nullable: true, required: false, type: 'text' });
    expect(field(definition, 'stock')).toMatchObject({ nullable: false, required: false, type: 'integer' });
    expect(field(definition, 'status')).toMatchObject({
      required: false,
      type: 'enum',
      enumValues: ['draft', 'published'],
    });
  });

  it('maps column types and keeps length, precision and scale', () => {
    const definition = resolve();
    expect(field(definition, 'title')).toMatchObject({ type: 'string', rules: { maxLength: 200 } });
    expect(field(definition, 'price')).toMatchObject({ type: 'decimal', rules: { precision: 10, scale: 2 } });
    expect(field(definition, 'featured').type).toBe('boolean');
    expect(field(definition, 'attributes').type).toBe('json');
    expect(field(definition, 'createdAt').type).toBe('datetime');
    expect(field(definition, 'externalId').type).toBe('uuid');
  });

  it('makes generated columns read-only and never required', () => {
    const definition = resolve();
    for (const name of ['id', 'createdAt', 'updatedAt', 'version', 'deletedAt', 'externalId', 'stockValue']) {
      expect(field(definition, name)).toMatchObject({
        name,
        readable: true,
        writable: false,
        required: false,
      });
      expect(definition.writable.has(name)).toBe(false);
    }
  });

  it('readOnly fields are readable, not writable and not required', () => {
    const definition = resolve({ readOnly: ['title'] });
    expect(field(definition, 'title')).toMatchObject({ readable: true, writable: false, required: false });
    expect(definition.query.selectable.has('title')).toBe(true);
  });

  it('hidden fields are neither readable nor writable, and not queryable by default', () => {
    const definition = resolve({ hidden: ['internalNote'] });
    expect(field(definition, 'internalNote')).toMatchObject({ readable: false, writable: false });
    expect(definition.readable.map((f) => f.name)).not.toContain('internalNote');
    expect(definition.writable.has('internalNote')).toBe(false);
    expect(definition.query.selectable.has('internalNote')).toBe(false);
    expect(definition.query.filterable.has('internalNote')).toBe(false);
    expect(definition.query.sortable.has('internalNote')).toBe(false);
  });

  it('writeOnly fields are writable but never read back', () => {
    const definition = resolve({ writeOnly: ['pin'] });
    expect(field(definition, 'pin')).toMatchObject({ readable: false, writable: true, required: false });
    expect(definition.readable.map((f) => f.name)).not.toContain('pin');
    expect(definition.writable.has('pin')).toBe(true);
    expect(definition.query.selectable.has('pin')).toBe(false);
    expect(definition.query.filterable.has('pin')).toBe(false);
    expect(definition.query.sortable.has('pin')).toBe(false);
  });

  it('defaults: every visible scalar filterable and sortable (not JSON), sorted by id, soft delete on', () => {
    const definition = resolve();
    const { query } = definition;
    expect(query.filterable.has('labelIds')).toBe(false);
    expect(query.filterable.get('title')?.operators).toEqual(
      new Set(['eq', 'ne', 'in', 'nin', 'contains', 'icontains', 'startswith']),
    );
    expect(query.filterable.get('summary')?.operators.has('isnull')).toBe(true);
    expect(query.filterable.get('attributes')?.operators).toEqual(new Set(['isnull']));
    expect(query.sortable.has('attributes')).toBe(false);
    expect(query.sortable.has('labelIds')).toBe(false);
    expect(query.sortable.has('publisherId')).toBe(true);
    expect(query.defaultSort).toEqual([{ path: 'id', direction: 'asc' }]);
    expect(query).toMatchObject({ defaultLimit: 20, maxLimit: 100, searchable: false, idPath: 'id' });
    expect(definition.deleteDateColumn?.propertyName).toBe('deletedAt');
    expect(definition.versionColumn?.propertyName).toBe('version');
    expect([...definition.actions]).toEqual(['list', 'get', 'create', 'update', 'delete', 'restore']);
  });

  it('defaults leave array columns out of filter and sort (still selectable)', () => {
    const { query } = resolve({}, Shelf);
    expect([...query.filterable.keys()]).toEqual(['id', 'level', 'total', 'rackId', 'parentId']);
    expect([...query.sortable.keys()]).toEqual(['id', 'level', 'total', 'rackId', 'parentId']);
    expect([...query.selectable.keys()]).toEqual(expect.arrayContaining(['tags', 'scores', 'statuses']));
  });

  it('an array column may be declared filterable by isnull when nullable, itself or through a relation', () => {
    const { query } = resolve(
      { filter: { scores: true, 'parent.tags': ['isnull'], 'parent.scores': true } },
      Shelf,
    );
    expect(query.filterable.get('scores')?.operators).toEqual(new Set(['isnull']));
    expect(query.filterable.get('parent.tags')?.operators).toEqual(new Set(['isnull']));
    expect(query.filterable.get('parent.scores')?.operators).toEqual(new Set(['isnull']));
  });

  it('integer fields carry their column width, join columns the width of the key they reference', () => {
    const { query } = resolve(
      {
        filter: {
          id: true,
          level: true,
          rackId: true,
          parentId: true,
          'parent.level': true,
          'parent.rackId': true,
        },
      },
      Shelf,
    );
    const width = (path: string) => query.filterable.get(path)?.field.integerFormat;
    expect(['id', 'level', 'rackId', 'parentId', 'parent.level', 'parent.rackId'].map(width)).toEqual([
      'int32',
      'int16',
      'int16',
      'int32',
      'int16',
      'int16',
    ]);
    expect(query.sortable.get('level')).toBe(query.filterable.get('level')?.field);
  });

  it('without a @DeleteDateColumn there is no soft delete and no restore', () => {
    const definition = resolve({}, Publisher);
    expect(definition.deleteDateColumn).toBeUndefined();
    expect(definition.actions.has('restore')).toBe(false);
    expect(definition.actions.has('delete')).toBe(true);
  });

  it('explicit filters: relation paths up to depth 2, operators as declared, nullability through relations', () => {
    const { query, paths } = resolve({
      filter: {
        title: ['eq', 'icontains'],
        'publisher.country.code': ['eq', 'in'],
        'editor.name': true,
        'labels.name': true,
      },
    });
    expect([...query.filterable.keys()]).toEqual([
      'title',
      'publisher.country.code',
      'editor.name',
      'labels.name',
      'id', // always: clients fetch the rows a page references with filter[id][in]
    ]);
    expect(query.filterable.get('id')?.operators).toEqual(new Set(['eq', 'in']));
    expect(query.filterable.get('title')?.operators).toEqual(new Set(['eq', 'icontains']));
    expect(query.filterable.get('publisher.country.code')?.field).toEqual({
      path: 'publisher.country.code',
      type: 'string',
      nullable: false,
      enumValues: undefined,
    });
    expect(paths.get('publisher.country.code')?.relations.map((r) => r.propertyName)).toEqual([
      'publisher',
      'country',
    ]);
    // Through a nullable to-one or a to-many relation, "no value" is possible.
    expect(query.filterable.get('editor.name')?.field.nullable).toBe(true);
    expect(query.filterable.get('labels.name')?.operators.has('isnull')).toBe(true);
  });

  it('names an implicit join column of a related entity <relation>Id, as its own resource does', () => {
    const { query } = resolve({ filter: { 'publisher.countryId': true, 'reviews.bookId': ['in'] } });
    expect(query.filterable.get('publisher.countryId')?.field).toMatchObject({
      type: 'integer',
      nullable: false,
    });
    expect(query.filterable.get('reviews.bookId')?.field).toMatchObject({ type: 'integer', nullable: true });
  });

  it('skips @VirtualColumn properties: they have no table column', () => {
    const definition = resolve();
    expect(definition.fields.has('reviewCount')).toBe(false);
    expect(definition.query.sortable.has('reviewCount')).toBe(false);
  });

  it('sort, defaultSort and search', () => {
    const definition = resolve({
      sort: ['title', 'createdAt'],
      defaultSort: '-createdAt,title',
      search: ['title', 'summary', 'publisher.name'],
    });
    expect([...definition.query.sortable.keys()]).toEqual(['title', 'createdAt', 'id']);
    expect(definition.query.defaultSort).toEqual([
      { path: 'createdAt', direction: 'desc' },
      { path: 'title', direction: 'asc' },
      { path: 'id', direction: 'asc' },
    ]);
    expect(resolve({ defaultSort: '-createdAt' }).query.defaultSort).toEqual([
      { path: 'createdAt', direction: 'desc' },
      { path: 'id', direction: 'desc' },
    ]);
    expect(definition.search.map((p) => p.spec.path)).toEqual(['title', 'summary', 'publisher.name']);
    expect(definition.query.searchable).toBe(true);
  });

  it('include spells out every prefix of the allowed paths', () => {
    const definition = resolve({ include: ['publisher.country', 'reviews', 'labels'] });
    expect(definition.query.includable).toEqual(
      new Set(['publisher', 'publisher.country', 'reviews', 'labels']),
    );
    expect([...definition.relations.keys()]).toEqual(
      expect.arrayContaining(['publisher', 'editor', 'labels', 'categories', 'reviews']),
    );
  });

  it('limits, admin hints and public actions pass through', () => {
    const definition = resolve({
      defaultLimit: 5,
      maxLimit: 5,
      public: ['list', 'get'],
      actions: ['list', 'get'],
      admin: {
        listDisplay: ['title', 'publisherId', 'labelIds'],
        titleField: 'title',
        labels: { title: 'T' },
      },
    });
    expect(definition.query).toMatchObject({ defaultLimit: 5, maxLimit: 5 });
    expect([...definition.publicActions]).toEqual(['list', 'get']);
    expect([...definition.actions]).toEqual(['list', 'get']);
  });
});

describe('ResourceRegistry cross-resource checks', () => {
  const registryOf = (...classes: (new () => object)[]): ResourceRegistry =>
    new ResourceRegistry(
      {
        getProviders: () => classes.map((metatype) => ({ metatype, instance: new metatype() })),
        getControllers: () => [],
      } as never,
      dataSource,
    );

  it('refuses a relation path that reaches a field the related resource hides', () => {
    @Resource(Publisher, { hidden: ['name'] })
    class PublisherResource {}
    @Resource(Book, { filter: { 'publisher.name': true } })
    class LeakyBookResource {}

    expect(() => registryOf(PublisherResource, LeakyBookResource).resolveAll()).toThrow(
      'NST-R001 LeakyBookResource: "publisher.name" reaches name, which PublisherResource hides',
    );
  });

  it('NST-R012: refuses a deprecated version with no newer one to move to', () => {
    @Resource(Book, { versions: { 1: { deprecated: '2026-12-01' } } })
    class OldBookResource {}

    expect(() => registryOf(OldBookResource).resolveAll()).toThrow(
      'NST-R012 OldBookResource: option "versions.1.deprecated": no newer version to move to (versions served: 1)',
    );
  });

  it('accepts relation paths to visible fields and resolves each resource once', () => {
    @Resource(Publisher)
    class PublisherResource {}
    @Resource(Book, { filter: { 'publisher.name': true } })
    class BookResource {}
    const registry = registryOf(PublisherResource, BookResource);
    registry.resolveAll();
    registry.resolveAll();

    expect(registry.all().map((d) => d.path)).toEqual(['publishers', 'books']);
    expect(registry.forEntity(Book)?.className).toBe('BookResource');
  });
});
