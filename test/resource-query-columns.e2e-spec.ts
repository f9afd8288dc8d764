import { Module } from '@nestjs/common';
import Ajv2020 from 'ajv/dist/2020';
import type { LightMyRequestResponse } from 'fastify';
import {
  Column,
  DataSource,
  Entity,
  JoinColumn,
  ManyToOne,
  OneToMany,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Resource } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { TestApp, createTestApp } from 'src/framework/testing';
import { appWith } from 'test/support/app-with';

enum Kind {
  A = 'a',
  B = 'b',
}

/** Holds items; its own array column is declared filterable by `isnull`, the one operator arrays take. */
@Entity('column_shelf')
class Shelf {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'smallint' }) level!: number;
  @Column({ type: 'text', array: true, nullable: true }) labels!: string[] | null;
  @OneToMany(() => Item, (item) => item.shelf) items!: Item[];
}

/** Array columns of several element types beside integer columns of each width, all with the defaults. */
@Entity('column_item')
class Item {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 60 }) name!: string;
  @Column({ type: 'text', array: true, default: () => `'{}'` }) tags!: string[];
  @Column({ type: 'int', array: true, nullable: true }) scores!: number[] | null;
  @Column({ type: 'enum', enum: Kind, enumName: 'column_item_kind', array: true, default: () => `'{}'` })
  kinds!: Kind[];
  @Column({ type: 'smallint', default: 0 }) rank!: number;
  @Column({ type: 'int', default: 0 }) stock!: number;
  @Column({ type: 'bigint', default: '0' }) total!: string;
  @ManyToOne(() => Shelf, (shelf) => shelf.items, { nullable: true })
  @JoinColumn({ name: 'shelfId' })
  shelf!: Shelf | null;
}

const DDL = `
  CREATE TYPE column_item_kind AS ENUM ('a', 'b');
  CREATE TABLE column_shelf (id serial PRIMARY KEY, level smallint NOT NULL, labels text[]);
  CREATE TABLE column_item (id serial PRIMARY KEY, name varchar(60) NOT NULL,
    tags text[] NOT NULL DEFAULT '{}', scores int[], kinds column_item_kind[] NOT NULL DEFAULT '{}',
    rank smallint NOT NULL DEFAULT 0, stock int NOT NULL DEFAULT 0, total bigint NOT NULL DEFAULT 0,
    "shelfId" int REFERENCES column_shelf(id));
  INSERT INTO column_shelf (level, labels) VALUES (1, '{top}'), (2, NULL);
  INSERT INTO column_item (name, tags, scores, kinds, rank, stock, total, "shelfId") VALUES
    ('a', '{red,blue}', '{3,1}', '{a}', 1, 10, 100, 1),
    ('b', '{green}', NULL, '{b,a}', 2, 20, 200, 1),
    ('c', '{}', '{2}', '{}', 3, 30, 300, 2),
    ('d', '{blue}', '{9}', '{b}', 4, 40, 9223372036854775807, 2)`;

@Resource(Item, { path: 'column-items' })
class ItemResource {}

@Resource(Shelf, {
  path: 'column-shelves',
  filter: { level: true, labels: ['isnull'], 'items.rank': ['eq', 'in', 'gt'] },
})
class ShelfResource {}

@Module({ imports: [ResourceModule.forFeature([ItemResource, ShelfResource])] })
class ColumnSamplesModule {}

interface Problem {
  status: number;
  errors?: { parameter?: string; code: string; message: string }[];
}

/**
 * How the list query language treats column types that plain comparisons do not fit: PostgreSQL arrays are
 * neither sortable nor filterable by value unless declared so (and then only by `isnull`), and integer filter
 * values outside the column's width (smallint, integer, bigint) are refused before they reach the database.
 */
describe('list queries on array columns and integer widths', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(appWith(ColumnSamplesModule), {
      as: 'superuser',
      env: { RESOURCE_CACHE: 'off' },
    });
    await t.app.get(DataSource).query(DDL);
  });
  afterAll(() => t?.close());

  const list = (query: string): Promise<LightMyRequestResponse> =>
    t.inject({ method: 'GET', url: `/api/column-items?${query}` });

  /** The status and `[parameter, code]` of each error of an answer (its names when it succeeded). */
  async function outcome(url: string): Promise<{ status: number; errors: unknown }> {
    const res = await t.inject({ method: 'GET', url });
    if (res.statusCode === 200) {
      const names = res.json<{ data: { name?: string; id: number }[] }>().data.map((r) => r.name ?? r.id);
      return { status: 200, errors: names };
    }
    const problem = res.json<Problem>();
    return {
      status: res.statusCode,
      errors: (problem.errors ?? []).map((e) => [e.parameter, e.code]),
    };
  }

  describe('array columns', () => {
    it.each(['tags', 'scores', 'kinds'])(
      'sort=%s is refused like any field that is not sortable, naming the sortable ones',
      async (name) => {
        const res = await list(`sort=${name}`);
        expect(res.statusCode).toBe(400);
        const problem = res.json<Problem>();
        expect(problem.errors).toEqual([expect.objectContaining({ parameter: 'sort', code: 'unknown' })]);
        expect(problem.errors?.[0].message).toContain(name);
        expect(problem.errors?.[0].message).not.toMatch(/sortable: .*(tags|scores|kinds)/);
      },
    );

    it.each([
      ['filter[tags]=red', 'filter[tags]'],
      ['filter[scores]=3', 'filter[scores]'],
      ['filter[kinds]=a', 'filter[kinds]'],
      ['filter[tags][contains]=re', 'filter[tags]'],
      ['filter[scores][gt]=1', 'filter[scores]'],
      ['filter[scores][isnull]=true', 'filter[scores]'],
    ])('%s is refused as an unknown filter field, before the database', async (query, parameter) => {
      expect(await outcome(`/api/column-items?${query}`)).toEqual({
        status: 400,
        errors: [[parameter, 'unknown']],
      });
    });

    it('still reads them: in rows, in fields= and by keyset pages of the other sorts', async () => {
      const first = await list('fields=id,tags,scores,kinds&sort=-stock&limit=2');
      expect(first.statusCode).toBe(200);
      const page = first.json<{ data: unknown[]; meta: { nextCursor: string } }>();
      expect(page.data).toEqual([
        { id: 4, tags: ['blue'], scores: [9], kinds: ['b'] },
        { id: 3, tags: [], scores: [2], kinds: [] },
      ]);
      const second = await list(`fields=id,tags&sort=-stock&limit=2&after=${page.meta.nextCursor}`);
      expect(second.statusCode).toBe(200);
      expect(second.json<{ data: unknown[] }>().data).toEqual([
        { id: 2, tags: ['green'] },
        { id: 1, tags: ['red', 'blue'] },
      ]);
    });

    it('a declared isnull filter on an array column works', async () => {
      expect(await outcome('/api/column-shelves?filter[labels][isnull]=true')).toEqual({
        status: 200,
        errors: [2],
      });
      expect(await outcome('/api/column-shelves?filter[labels][isnull]=false')).toEqual({
        status: 200,
        errors: [1],
      });
      expect(await outcome('/api/column-shelves?filter[labels]=top')).toEqual({
        status: 400,
        errors: [['filter[labels]', 'operator']],
      });
    });

    it('the OpenAPI document offers exactly the sorts and filters the list accepts', async () => {
      const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{
        paths: Record<
          string,
          { get?: { parameters?: { name: string; schema: { items?: { enum?: string[] } } }[] } }
        >;
      }>();
      const parameters = (path: string) => doc.paths[path].get?.parameters ?? [];
      const items = parameters('/api/column-items');
      const sort = items.find((p) => p.name === 'sort')?.schema.items?.enum ?? [];
      expect(sort).toEqual(expect.arrayContaining(['name', 'rank', 'stock', 'total', '-id']));
      expect(sort.filter((s) => /tags|scores|kinds/.test(s))).toEqual([]);
      expect(items.map((p) => p.name).filter((n) => /tags|scores|kinds/.test(n))).toEqual([]);
      expect(items.find((p) => p.name === 'fields')?.schema.items?.enum).toEqual(
        expect.arrayContaining(['tags', 'scores', 'kinds']),
      );
      const shelves = parameters('/api/column-shelves').map((p) => p.name);
      expect(shelves.filter((n) => n.startsWith('filter[labels]'))).toEqual(['filter[labels][isnull]']);
      const shelfSort =
        parameters('/api/column-shelves').find((p) => p.name === 'sort')?.schema.items?.enum ?? [];
      expect(shelfSort).not.toContain('labels');
    });
  });

  describe('integer filter values outside the column type', () => {
    it.each([
      // smallint: -32768…32767
      ['filter[rank]=32768', 'filter[rank]'],
      ['filter[rank][lt]=-32769', 'filter[rank][lt]'],
      ['filter[rank][in]=1,40000', 'filter[rank][in]'],
      ['filter[rank][between]=0,32768', 'filter[rank][between]'],
      // integer: -2147483648…2147483647
      ['filter[stock]=99999999999', 'filter[stock]'],
      ['filter[stock][gt]=2147483648', 'filter[stock][gt]'],
      ['filter[stock][gte]=-2147483649', 'filter[stock][gte]'],
      ['filter[stock][in]=10,99999999999', 'filter[stock][in]'],
      ['filter[stock][nin]=2147483648', 'filter[stock][nin]'],
      ['filter[id]=2147483648', 'filter[id]'],
      ['filter[shelfId][in]=1,2147483648', 'filter[shelfId][in]'],
      // bigint: -2^63…2^63-1
      ['filter[total]=9223372036854775808', 'filter[total]'],
      ['filter[total][lt]=-9223372036854775809', 'filter[total][lt]'],
      ['filter[total][in]=1,99999999999999999999', 'filter[total][in]'],
    ])('%s is a 400 naming %s, out of range', async (query, parameter) => {
      const res = await list(query);
      expect({ status: res.statusCode, errors: res.json<Problem>().errors }).toEqual({
        status: 400,
        errors: [{ parameter, code: 'range', message: expect.stringContaining('out of range') as string }],
      });
    });

    it('the OpenAPI document states the same bounds', async () => {
      const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{
        paths: Record<string, { get: { parameters: { name: string; schema: Record<string, unknown> }[] } }>;
      }>();
      const schema = (path: string, name: string) =>
        doc.paths[path].get.parameters.find((p) => p.name === name)?.schema;
      expect(schema('/api/column-items', 'filter[rank]')).toMatchObject({ minimum: -32768, maximum: 32767 });
      expect(schema('/api/column-items', 'filter[stock][gt]')).toMatchObject({
        minimum: -2147483648,
        maximum: 2147483647,
      });
      expect(schema('/api/column-items', 'filter[rank][in]')).toMatchObject({
        items: { minimum: -32768, maximum: 32767 },
      });
      expect(schema('/api/column-shelves', 'filter[items.rank][in]')).toMatchObject({
        items: { minimum: -32768, maximum: 32767 },
      });
    });

    it('through a relation path the related column decides (smallint)', async () => {
      expect(await outcome('/api/column-shelves?filter[items.rank][in]=1,32768')).toEqual({
        status: 400,
        errors: [['filter[items.rank][in]', 'range']],
      });
      expect(await outcome('/api/column-shelves?filter[items.rank][gt]=32767')).toEqual({
        status: 200,
        errors: [],
      });
      expect(await outcome('/api/column-shelves?filter[level]=-32769')).toEqual({
        status: 400,
        errors: [['filter[level]', 'range']],
      });
    });

    it('the bounds themselves are valid values', async () => {
      const ok = async (query: string) => (await outcome(`/api/column-items?${query}`)).status;
      expect(await ok('filter[rank][between]=-32768,32767')).toBe(200);
      expect(await ok('filter[stock][in]=-2147483648,2147483647')).toBe(200);
      expect(await ok('filter[id][lt]=2147483647')).toBe(200);
      expect(await outcome('/api/column-items?filter[total]=9223372036854775807')).toEqual({
        status: 200,
        errors: ['d'],
      });
      expect(await ok('filter[total][gt]=-9223372036854775808')).toBe(200);
    });
  });
  describe('the document and the server agree on integer values', () => {
    interface Doc {
      paths: Record<string, Record<string, { parameters?: { name: string; schema: object }[] }>>;
      components: { schemas: Record<string, { properties: Record<string, object> }> };
    }
    // Query values arrive as text: coerced to the parameter's type as a generated client would have sent them.
    const ajv = new Ajv2020({ strict: false, coerceTypes: true, validateFormats: false });

    it.each([
      ['/api/column-items', 'filter[id]', ['0', '-1', '1', '2147483647', '2147483648', '-2147483649']],
      ['/api/column-items', 'filter[id][gt]', ['0', '-2147483648', '2147483648']],
      ['/api/column-items', 'filter[rank]', ['-32768', '32768', '0']],
      [
        '/api/column-items',
        'filter[total]',
        [
          '0',
          '-0',
          '0009',
          '9223372036854775807',
          '9223372036854775808',
          '9300000000000000000',
          '-9223372036854775808',
          '-9223372036854775809',
          '9999999999999999999',
          '1000000000000000000',
        ],
      ],
    ])(
      '%s %s: each value the document admits is accepted, each it refuses is refused',
      async (path, name, values) => {
        const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<Doc>();
        const schema = doc.paths[path].get.parameters?.find((p) => p.name === name)?.schema;
        expect(schema).toBeDefined();
        const validate = ajv.compile(schema!);
        const verdicts = await Promise.all(
          values.map(async (value) => {
            const res = await list(`${name}=${encodeURIComponent(value)}`);
            return [
              value,
              validate(value) ? 'admitted' : 'refused',
              res.statusCode === 200 ? 'admitted' : 'refused',
            ];
          }),
        );
        expect(verdicts.filter(([, documented, served]) => documented !== served)).toEqual([]);
      },
    );

    it('a bigint in a body: the schema admits exactly the values the server stores', async () => {
      const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<Doc>();
      // A JSON body keeps its types: no coercion.
      const body = new Ajv2020({ strict: false, validateFormats: false });
      const validate = body.compile(doc.components.schemas.ItemCreate.properties.total);
      const values = [
        '9223372036854775807',
        '9223372036854775808',
        '-9223372036854775808',
        '-9223372036854775809',
        '9999999999999999999',
        '42',
      ];
      const verdicts = [];
      for (const total of values) {
        const res = await t.inject({
          method: 'POST',
          url: '/api/column-items',
          payload: { name: 'big', total },
        });
        verdicts.push([
          total,
          validate(total) ? 'admitted' : 'refused',
          res.statusCode === 201 ? 'admitted' : 'refused',
        ]);
      }
      await t.app.get(DataSource).query("DELETE FROM column_item WHERE name = 'big'");
      expect(verdicts.filter(([, documented, served]) => documented !== served)).toEqual([]);
    });
  });

  describe('array columns in writes and documents', () => {
    const create = (payload: Record<string, unknown>) =>
      t.inject({ method: 'POST', url: '/api/column-items', payload });

    it('creates and updates them from JSON arrays, read back as written', async () => {
      const created = await create({ name: 'e', tags: ['x', 'y', 'x'], scores: [5, -1], kinds: ['b', 'a'] });
      expect(created.statusCode).toBe(201);
      const id = created.json<{ id: number }>().id;
      expect(created.json()).toMatchObject({ tags: ['x', 'y', 'x'], scores: [5, -1], kinds: ['b', 'a'] });

      const patched = await t.inject({
        method: 'PATCH',
        url: `/api/column-items/${id}`,
        payload: { tags: [], scores: null },
      });
      expect(patched.statusCode).toBe(200);
      const read = await t.inject({ url: `/api/column-items/${id}` });
      expect(read.json()).toMatchObject({ tags: [], scores: null, kinds: ['b', 'a'] });
    });

    it('refuses what the column cannot hold with 422 pointing at the value or the element', async () => {
      const errors = async (payload: Record<string, unknown>) => {
        const res = await create({ name: 'f', ...payload });
        return {
          status: res.statusCode,
          errors: res
            .json<{ errors?: { pointer: string; code: string }[] }>()
            .errors?.map((e) => [e.pointer, e.code]),
        };
      };
      expect(await errors({ tags: 'red' })).toEqual({ status: 422, errors: [['/tags', 'type']] });
      expect(await errors({ tags: ['red', 7] })).toEqual({ status: 422, errors: [['/tags/1', 'type']] });
      expect(await errors({ tags: null })).toEqual({ status: 422, errors: [['/tags', 'required']] });
      expect(await errors({ scores: [1, 2147483648] })).toEqual({
        status: 422,
        errors: [['/scores/1', 'type']],
      });
      expect(await errors({ kinds: ['a', 'c'] })).toEqual({ status: 422, errors: [['/kinds/1', 'enum']] });
      expect(await errors({ tags: [null] })).toEqual({ status: 422, errors: [['/tags/0', 'type']] });
      const rows = await t.app.get(DataSource).query<unknown[]>("SELECT 1 FROM column_item WHERE name = 'f'");
      expect(rows).toHaveLength(0);
    });

    it('the OpenAPI document and the GraphQL schema describe them as lists of their element type', async () => {
      const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{
        components: { schemas: Record<string, { properties: Record<string, unknown> }> };
      }>();
      const item = doc.components.schemas.Item.properties;
      expect(item.tags).toMatchObject({ type: 'array', items: { type: 'string' } });
      expect(item.scores).toMatchObject({
        type: ['array', 'null'],
        items: { type: 'integer', format: 'int32' },
      });
      expect(item.kinds).toMatchObject({ type: 'array', items: { enum: ['a', 'b'] } });

      const sdl = await t.inject({
        method: 'POST',
        url: '/graphql',
        payload: {
          query: '{ __type(name: "Item") { fields { name type { kind ofType { kind ofType { kind } } } } } }',
        },
      });
      const fields = sdl.json<{ data: { __type: { fields: { name: string; type: unknown }[] } } }>().data
        .__type.fields;
      const kind = (name: string) => fields.find((f) => f.name === name)?.type;
      expect(kind('tags')).toEqual({
        kind: 'NON_NULL',
        ofType: { kind: 'LIST', ofType: { kind: 'NON_NULL' } },
      });
      expect(kind('scores')).toEqual({
        kind: 'LIST',
        ofType: { kind: 'NON_NULL', ofType: { kind: 'SCALAR' } },
      });
    });
  });
});
