import type { Faker } from '@faker-js/faker';
import { faker as englishFaker } from '@faker-js/faker/locale/en';
import {
  DataSource,
  DeepPartial,
  EntityManager,
  EntityMetadata,
  ObjectLiteral,
  RelationMetadata,
} from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';

/** An entity class. Example: `const target: EntityClass<Product> = Product`. */
export type EntityClass<T> = new (...args: never[]) => T;

/**
 * What a factory definition receives for each object it makes.
 * Example: `({ faker, sequence }) => ({ name: faker.commerce.productName(), sku: \`SKU-${sequence}\` })`.
 */
export interface FactoryContext {
  /** A faker (English locale); seeded when the factory was given a `seed`. */
  faker: Faker;
  /** 1, 2, 3… per entity class for the whole process: put it in unique values (`SKU-${sequence}`). */
  sequence: number;
}

/**
 * What a lazy attribute (a function in a definition) receives.
 * Example: `owner: ({ association }) => association(User)`.
 */
export interface LazyContext extends FactoryContext {
  /**
   * Creates a related row through its own factory (or the metadata fallback).
   * Example: `category: ({ association }) => association(Category, { slug: 'books' })`.
   */
  association: <R extends ObjectLiteral>(entity: EntityClass<R>, overrides?: DeepPartial<R>) => Promise<R>;
}

/**
 * A value computed only when the caller did not override the field.
 * Example: `category: ({ association }) => association(Category)`.
 */
export type Lazy<V> = (context: LazyContext) => V | Promise<V>;

/**
 * The attributes a definition returns: values, partial related objects, or lazy functions.
 * Example: `{ stock: 10, category: { slug: 'books' } }`.
 */
export type FactoryAttributes<T> = { [K in keyof T]?: T[K] | DeepPartial<T[K]> | Lazy<T[K]> };

/**
 * `(context) => attributes`: how to make one realistic object of an entity.
 * Example: `({ faker }) => ({ name: faker.word.noun() })`.
 */
export type FactoryDefinition<T> = (context: FactoryContext) => FactoryAttributes<T>;

/**
 * Overrides for `createMany`/`buildMany`: the same for every object, or per index (0-based), computed with
 * the object's own (possibly seeded) faker.
 * Example: `(i, { faker }) => ({ sku: \`S-${i}\`, stock: faker.number.int(9) })`.
 */
export type ManyOverrides<T> = DeepPartial<T> | ((index: number, context: FactoryContext) => DeepPartial<T>);

/** How a factory makes its values. Example: `t.factory(Product, { seed: 42 })`. */
export interface FactoryOptions {
  /**
   * Seeds faker: the same seed makes the same values (sequences aside), in any process.
   * Object n of a seeded factory always gets the same values, however many were made before it.
   */
  seed?: number;
}

/**
 * A factory failure a user can fix, with a stable code (F001 not an entity, F002 a column type it cannot
 * fake, F003 required relations too deep).
 * Example: `expect(() => t.factory(NotAnEntity)).toThrow(FactoryError)`.
 */
export class FactoryError extends Error {}

type AnyDefinition = FactoryDefinition<ObjectLiteral>;
type PerIndex<T> = (index: number, context: FactoryContext) => DeepPartial<T>;
/** An object under construction: values are checked, never trusted (`ObjectLiteral` is `any`-valued). */
type Row = Record<string, unknown>;
type Target = DataSource | EntityManager;

const definitions = new Map<unknown, AnyDefinition>();
const sequences = new Map<unknown, number>();
/** Required relations nest at most this deep (a required self-reference would never end). */
const MAX_DEPTH = 8;
/** Seeded factories date things relative to this, so their dates do not move with the clock. */
const SEEDED_REF_DATE = new Date('2026-01-01T00:00:00.000Z');

type FakerConstructor = new (options: { locale: Faker['rawDefinitions'] }) => Faker;

/** A faker of its own (English): seeding it never disturbs the caller's `faker` import. */
function newFaker(): Faker {
  // `@faker-js/faker/locale/en` exports only its instance; its constructor avoids loading all 70 locales.
  return new (englishFaker.constructor as FakerConstructor)({ locale: englishFaker.rawDefinitions });
}

let sharedFaker: Faker | undefined;

/**
 * Registers how to make realistic objects of an entity (model_bakery's recipes, factory_bot's factories).
 * A function value is lazy: it runs only when the caller did not override that field.
 * Example: `defineFactory(Product, ({ faker, sequence }) => ({ name: faker.commerce.productName(),
 * sku: \`SKU-${sequence}\`, category: ({ association }) => association(Category) }))`.
 */
export function defineFactory<T extends ObjectLiteral>(
  entity: EntityClass<T>,
  definition: FactoryDefinition<T>,
): void {
  definitions.set(entity, definition);
}

/**
 * A factory bound to a DataSource (or a transaction's EntityManager). Entities without a definition work
 * too: required columns and required parents are filled from the TypeORM metadata.
 * Example: `const product = await factory(Product, dataSource).create({ price: '9.99' })`.
 */
export function factory<T extends ObjectLiteral>(
  entity: EntityClass<T>,
  target: Target,
  options: FactoryOptions = {},
): Factory<T> {
  return new Factory(entity, target, options);
}

/** Makes objects of one entity; see {@link factory}. */
export class Factory<T extends ObjectLiteral> {
  private readonly manager: EntityManager;
  private readonly metadata: EntityMetadata;
  private readonly faker: Faker;
  private made = 0;

  constructor(
    private readonly entity: EntityClass<T>,
    target: Target,
    private readonly options: FactoryOptions & { faker?: Faker; depth?: number; path?: string[] } = {},
  ) {
    this.manager = target instanceof DataSource ? target.manager : target;
    if (!this.manager.connection.hasMetadata(entity)) {
      const known = this.manager.connection.entityMetadatas.map((m) => m.name).join(', ');
      throw new FactoryError(
        `NST-F001 Factory for "${entity.name}": not an entity of this DataSource (entities: ${known})`,
      );
    }
    this.metadata = this.manager.connection.getMetadata(entity);
    if (options.faker) {
      this.faker = options.faker; // an association: made from its parent's (possibly seeded) stream
    } else if (options.seed !== undefined) {
      this.faker = newFaker();
      this.faker.setDefaultRefDate(SEEDED_REF_DATE);
    } else {
      this.faker = sharedFaker ??= newFaker();
    }
  }

  /**
   * An object with its attributes filled, not saved; parents it needs are created (as factory_bot's
   * `build`), so it can be saved or posted as is. Example: `const draft = await f.build({ stock: 0 })`.
   */
  build(overrides?: DeepPartial<T>): Promise<T> {
    return this.make(() => overrides);
  }

  /** `n` unsaved objects; see {@link build}. Example: `await f.buildMany(3, (i) => ({ stock: i }))`. */
  async buildMany(n: number, overrides?: ManyOverrides<T>): Promise<T[]> {
    const objects: T[] = [];
    const each = typeof overrides === 'function' ? (overrides as PerIndex<T>) : undefined;
    for (let i = 0; i < n; i++) {
      objects.push(
        await this.make((context) => (each ? each(i, context) : (overrides as DeepPartial<T> | undefined))),
      );
    }
    return objects;
  }

  /** One saved object, generated columns (id, defaults, timestamps) filled. Example: `await f.create()`. */
  async create(overrides?: DeepPartial<T>): Promise<T> {
    return this.manager.save(await this.make(() => overrides));
  }

  /** `n` saved objects. Example: `await t.factory(Product).createMany(5, { stock: 0 })`. */
  async createMany(n: number, overrides?: ManyOverrides<T>): Promise<T[]> {
    return this.manager.save(await this.buildMany(n, overrides));
  }

  /** One object; `overrides` runs after faker is seeded for it, so it may use the object's faker. */
  private async make(overrides: (context: FactoryContext) => DeepPartial<T> | undefined): Promise<T> {
    const entityClass = this.metadata.target;
    const sequence = (sequences.get(entityClass) ?? 0) + 1;
    sequences.set(entityClass, sequence);
    if (this.options.seed !== undefined && !this.options.faker) {
      this.faker.seed([this.options.seed, this.made, nameCode(this.metadata.name)]);
    }
    this.made += 1;
    const context: FactoryContext = { faker: this.faker, sequence };
    const lazy: LazyContext = {
      ...context,
      association: (entity, values) => this.child(entity).create(values),
    };

    const given = defined(overrides(context) ?? {});
    const definition = definitions.get(entityClass);
    const recipe = definition ? defined(definition(context)) : {};
    // Overriding a relation or its foreign key column replaces both from the definition.
    const covered = new Set(Object.keys(given));
    for (const relation of this.metadata.relations) {
      const group = [relation.propertyName, ...relation.joinColumns.map((c) => c.propertyName)];
      if (group.some((key) => covered.has(key))) {
        group.forEach((key) => covered.add(key));
      }
    }
    const values: Row = { ...given };
    for (const [key, value] of Object.entries(recipe)) {
      if (!covered.has(key)) {
        values[key] = typeof value === 'function' ? await (value as Lazy<unknown>)(lazy) : value;
      }
    }

    const object = this.manager.create(this.entity) as Row;
    for (const [key, value] of Object.entries(values)) {
      const relation = this.metadata.findRelationWithPropertyPath(key);
      object[key] = relation ? await this.related(relation, value) : value;
    }
    for (const relation of this.requiredRelations()) {
      const provided =
        object[relation.propertyName] !== undefined ||
        relation.joinColumns.some((c) => object[c.propertyName] !== undefined);
      if (!provided) {
        object[relation.propertyName] = await this.child(relation.inverseEntityMetadata.target).create();
      }
    }
    this.syncForeignKeys(object);
    for (const column of this.requiredColumns()) {
      if (column.getEntityValue(object) === undefined) {
        column.setEntityValue(object, this.fake(column, sequence));
      }
    }
    return object as T;
  }

  /** A relation value: a partial object without a primary key is created through its factory. */
  private async related(relation: RelationMetadata, value: unknown): Promise<unknown> {
    const inverse = relation.inverseEntityMetadata;
    const make = (item: unknown): Promise<unknown> =>
      item !== null && typeof item === 'object' && !hasPrimaryKey(inverse, item)
        ? this.child(inverse.target).create(item)
        : Promise.resolve(item);
    if (relation.isOneToMany) {
      return value; // children need their parent saved first: create them afterwards, with it
    }
    return Array.isArray(value) ? Promise.all(value.map(make)) : make(value);
  }

  /** Copies a related object's key into an explicit foreign key column (`categoryId`) left unset. */
  private syncForeignKeys(object: Row): void {
    for (const relation of this.metadata.relations) {
      const related = object[relation.propertyName] as ObjectLiteral | null | undefined;
      if (!related || (!relation.isManyToOne && !relation.isOneToOneOwner)) {
        continue;
      }
      for (const column of relation.joinColumns) {
        if (column.propertyName !== relation.propertyName && object[column.propertyName] === undefined) {
          object[column.propertyName] = column.referencedColumn?.getEntityValue(related) as unknown;
        }
      }
    }
  }

  /** Many-to-one (and owning one-to-one) relations the database requires. */
  private requiredRelations(): RelationMetadata[] {
    return this.metadata.relations.filter(
      (relation) =>
        (relation.isManyToOne || relation.isOneToOneOwner) &&
        (!relation.isNullable || relation.joinColumns.some((c) => required(c))),
    );
  }

  /** Columns an INSERT must give: not null, no default, not generated, not a foreign key. */
  private requiredColumns(): ColumnMetadata[] {
    return this.metadata.columns.filter(
      (column) =>
        required(column) &&
        !column.relationMetadata &&
        !this.metadata.relations.some((r) => r.joinColumns.includes(column)),
    );
  }

  private child<R extends ObjectLiteral>(entity: EntityClass<R> | EntityMetadata['target']): Factory<R> {
    const path = [...(this.options.path ?? []), this.metadata.name];
    const depth = (this.options.depth ?? 0) + 1;
    const target = this.manager.connection.getMetadata(entity).target as EntityClass<R>;
    if (depth > MAX_DEPTH) {
      throw new FactoryError(
        `NST-F003 Factory for "${path[0]}": required relations go too deep (${path.join(' → ')}); ` +
          'pass the relation (or its id) in the overrides',
      );
    }
    return new Factory(target, this.manager, { faker: this.faker, depth, path });
  }

  /** A value for a required column, from its type, length, precision and uniqueness. */
  private fake(column: ColumnMetadata, sequence: number): unknown {
    const type = this.manager.connection.driver.normalizeType(column);
    if (column.isArray || type === 'simple-array') {
      return [];
    }
    if (column.enum?.length) {
      return column.enum[0];
    }
    const fake = FAKES.get(type);
    if (!fake) {
      throw new FactoryError(
        `NST-F002 Factory for "${this.metadata.name}": cannot make up a value for the required column ` +
          `"${column.propertyName}" (type ${type}); give it in defineFactory(${this.metadata.name}, …) or in the overrides`,
      );
    }
    const unique = isUnique(this.metadata, column);
    return fake({ faker: this.faker, column, type, unique, sequence });
  }
}

/** What a column's faker gets: the column, its normalised type, and the row's sequence number when unique. */
interface FakeContext {
  faker: Faker;
  column: ColumnMetadata;
  type: string;
  unique: boolean;
  sequence: number;
}

function fakeDecimal({ faker, column, unique, sequence }: FakeContext): string {
  const scale = column.scale ?? (column.precision ? 0 : 2);
  const whole = (column.precision ?? 10) - scale;
  const max = Math.min(10 ** Math.max(whole, 0) - 1, 1000);
  if (unique && sequence <= max) {
    return sequence.toFixed(scale);
  }
  return faker.number.float({ min: 0, max: Math.max(max, 0.9), fractionDigits: scale }).toFixed(scale);
}

/** One faker per group of PostgreSQL type names (as the driver normalises them). */
const FAKE_GROUPS: [string[], (c: FakeContext) => unknown][] = [
  [
    ['character varying', 'varchar', 'character', 'char', 'text', 'citext', 'string'],
    ({ faker, column, type, unique, sequence }) =>
      fakeString(
        faker,
        column.propertyName.toLowerCase(),
        type,
        unique ? sequence : undefined,
        Number(column.length) || undefined,
      ),
  ],
  [
    ['smallint', 'int2', 'integer', 'int', 'int4', 'bigint', 'int8'],
    ({ faker, column, unique, sequence }) =>
      unique || column.isPrimary ? sequence : faker.number.int({ min: 1, max: 1000 }),
  ],
  [['numeric', 'decimal'], fakeDecimal],
  [
    ['real', 'float4', 'double precision', 'float8', 'float'],
    ({ faker }) => faker.number.float({ min: 0, max: 1000, fractionDigits: 2 }),
  ],
  [['money'], ({ faker }) => faker.commerce.price()],
  [['boolean', 'bool'], ({ faker }) => faker.datatype.boolean()],
  [
    ['date'],
    // Unique dates: one day per sequence number from 2000-01-01.
    ({ faker, unique, sequence }) =>
      (unique ? new Date(Date.UTC(2000, 0, sequence)) : faker.date.recent()).toISOString().slice(0, 10),
  ],
  [
    ['time', 'time without time zone', 'time with time zone'],
    ({ faker }) => faker.date.recent().toISOString().slice(11, 19),
  ],
  [
    ['timestamp', 'timestamp without time zone', 'timestamp with time zone', 'timestamptz'],
    ({ faker, unique, sequence }) =>
      unique ? new Date(Date.UTC(2000, 0, 1, 0, 0, sequence)) : faker.date.recent(),
  ],
  [['interval'], ({ faker }) => `${faker.number.int({ min: 1, max: 30 })} days`],
  [['json', 'jsonb', 'simple-json'], () => ({})],
  [['uuid'], ({ faker }) => faker.string.uuid()],
  [['bytea'], ({ faker }) => Buffer.from(faker.string.alphanumeric(16))],
  [['inet', 'cidr'], ({ faker }) => faker.internet.ipv4()],
  [['macaddr'], ({ faker }) => faker.internet.mac()],
];

const FAKES = new Map(FAKE_GROUPS.flatMap(([types, fake]) => types.map((type) => [type, fake] as const)));

/** Not null, no default, not generated or maintained by TypeORM. */
function required(column: ColumnMetadata): boolean {
  return (
    !column.isNullable &&
    column.default === undefined &&
    !column.isGenerated &&
    !column.generatedType &&
    !column.isCreateDate &&
    !column.isUpdateDate &&
    !column.isDeleteDate &&
    !column.isVersion &&
    !column.isVirtual &&
    !column.isDiscriminator &&
    column.isInsert
  );
}

function isUnique(metadata: EntityMetadata, column: ColumnMetadata): boolean {
  const single = (columns: ColumnMetadata[]) => columns.length === 1 && columns[0] === column;
  return (
    column.isPrimary ||
    metadata.uniques.some((u) => single(u.columns)) ||
    metadata.indices.some((i) => i.isUnique && single(i.columns))
  );
}

function hasPrimaryKey(metadata: EntityMetadata, object: object): boolean {
  return metadata.primaryColumns.every((c) => {
    const value: unknown = c.getEntityValue(object);
    return value !== undefined && value !== null;
  });
}

/** Keys whose value is not `undefined` (an explicit `undefined` override means "not given"). */
function defined(values: object): Row {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

function nameCode(name: string): number {
  return [...name].reduce((sum, char) => (sum * 31 + char.charCodeAt(0)) % 1_000_003, 7);
}

/** A string shaped by the column's name (email, slug, url, code…), unique by a suffix, within `length`. */
function fakeString(
  faker: Faker,
  name: string,
  type: string,
  sequence: number | undefined,
  length: number | undefined,
): string {
  const suffix = sequence === undefined ? '' : `-${sequence}`;
  let text: string;
  if (name.includes('email')) {
    const [local, domain] = faker.internet.email({ provider: 'example.com' }).toLowerCase().split('@');
    const at = `${sequence === undefined ? '' : `.${sequence}`}@${domain}`;
    return `${local.slice(0, Math.max(1, (length ?? 254) - at.length))}${at}`;
  } else if (name.includes('slug')) {
    text = faker.lorem.slug(2);
  } else if (name.includes('url') || name.includes('website')) {
    text = faker.internet.url();
  } else if (name.includes('phone')) {
    text = faker.phone.number();
  } else if (name === 'sku' || name.endsWith('code')) {
    text = faker.string.alphanumeric({ length: 8, casing: 'upper' });
  } else if (name.includes('name') || name.includes('title')) {
    text = faker.lorem.words({ min: 1, max: 3 });
    text = text.charAt(0).toUpperCase() + text.slice(1);
  } else {
    text = type === 'text' ? faker.lorem.sentence() : faker.lorem.words(2);
  }
  const room = length === undefined ? text.length : Math.max(0, length - suffix.length);
  return `${text.slice(0, room)}${suffix}`.slice(0, length ?? Infinity);
}
