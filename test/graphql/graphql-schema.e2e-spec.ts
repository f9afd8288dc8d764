import 'src/app/catalog/catalog.factories';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  lexicographicSortSchema,
  printSchema,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { TestApp, createTestApp } from 'src/framework/testing';
import { raw } from 'test/graphql/graphql-client';

/**
 * The GraphQL contract (issue 22 item 5): the SDL is a committed snapshot, like the OpenAPI document
 * (`npm run graphql:update` rewrites it after an intended change), and a fuzz pass sends every query and
 * mutation hostile arguments: no 5xx, no INTERNAL_SERVER_ERROR.
 */

const SNAPSHOT = join(__dirname, '..', 'snapshots', 'schema.graphql');

/** Values that have broken servers before, per GraphQL scalar. */
const HOSTILE: Record<string, unknown[]> = {
  Int: [0, -1, 2147483647, -2147483648, 1],
  Float: [-0, 1e308, -1e308, 0.1],
  Boolean: [true, false],
  String: [
    '',
    ' ',
    'x'.repeat(5000),
    "'; DROP TABLE product; --",
    '\u0000',
    '%_\\',
    '../../etc/passwd',
    '{"a":1}',
    '9999999999999999999999999',
    '-1',
    '2026-13-45T99:99:99Z',
    '𝕏\uD800',
    'eyJ4IjoxfQ',
  ],
  ID: ['0', '-1', 'abc'],
  JSON: [null, { __proto__: { polluted: 1 } }, [1, [2, [3]]], 'x'.repeat(3000)],
};

function hostile(type: GraphQLInputType, round: number, depth = 0): unknown {
  if (isNonNullType(type)) {
    return hostile(type.ofType, round, depth) ?? hostile(type.ofType, round + 1, depth);
  }
  if (isListType(type)) {
    return round % 3 === 0
      ? []
      : [hostile(type.ofType, round, depth + 1), hostile(type.ofType, round + 1, depth + 1)];
  }
  if (isEnumType(type)) {
    const values = type.getValues();
    return values[round % values.length].name;
  }
  if (isInputObjectType(type)) {
    if (depth > 3) {
      return {};
    }
    return Object.fromEntries(
      Object.values(type.getFields()).map((field, i) => [
        field.name,
        hostile(field.type, round + i, depth + 1),
      ]),
    );
  }
  const values = HOSTILE[isScalarType(type) ? type.name : 'String'] ?? HOSTILE.String;
  return values[round % values.length];
}

/** A selection for a field's type: ids and the connection's parts, deep enough to run the resolvers. */
function selection(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) {
    return '';
  }
  const fields = named.getFields();
  if (fields.edges) {
    return '{ totalCount pageInfo { hasNextPage endCursor } edges { cursor node { __typename } } }';
  }
  return fields.id ? '{ id etag }' : '{ __typename }';
}

function document(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const args = field.args;
  const variables = args.map((arg) => `$${arg.name}: ${arg.type.toString()}`).join(', ');
  const call = args.length > 0 ? `(${args.map((arg) => `${arg.name}: $${arg.name}`).join(', ')})` : '';
  return `${kind}${variables ? ` Fuzz(${variables})` : ''} { ${field.name}${call} ${selection(field.type)} }`;
}

describe('GraphQL schema contract', () => {
  let t: TestApp;
  let schema: GraphQLSchema;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { WORKERS: 'off' } });
    const category = await t.factory(Category).create();
    await t.factory(Product).createMany(3, { category });
    const answer = await raw(t, getIntrospectionQuery());
    schema = lexicographicSortSchema(buildClientSchema(answer.data as unknown as IntrospectionQuery));
  });

  afterAll(async () => {
    await t?.close();
  });

  it('matches the committed SDL snapshot (npm run graphql:update after an intended change)', () => {
    const sdl = `${printSchema(schema)}\n`;
    if (process.env.UPDATE_GRAPHQL === '1' || !existsSync(SNAPSHOT)) {
      writeFileSync(SNAPSHOT, sdl);
    }
    expect(sdl).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });

  it('shapes one resource as the README shows: Product, its connection and its arguments', () => {
    const product = schema.getType('Product');
    expect(isObjectType(product) && Object.keys(product.getFields())).toEqual(
      expect.arrayContaining(['id', 'name', 'price', 'category', 'tags', 'etag', 'tagIds']),
    );
    const list = schema.getQueryType()!.getFields().products;
    expect(list.args.map((a) => a.name).sort()).toEqual([
      'after',
      'filter',
      'first',
      'search',
      'sort',
      'trashed',
    ]);
    expect(list.type.toString()).toBe('ProductConnection!');
  });

  it('survives hostile arguments on every query and mutation: no 5xx, no INTERNAL_SERVER_ERROR', async () => {
    const failures: string[] = [];
    let sent = 0;
    let ran = 0; // documents that reached the resolvers (not refused whole as invalid)
    const roots: ['query' | 'mutation', GraphQLField<unknown, unknown>[]][] = [
      ['query', Object.values(schema.getQueryType()!.getFields())],
      ['mutation', Object.values(schema.getMutationType()!.getFields())],
    ];
    for (const [kind, fields] of roots) {
      for (const field of fields) {
        for (let round = 0; round < 6; round++) {
          const variables = Object.fromEntries(
            field.args.map((arg, i) => [arg.name, hostile(arg.type, round + i)]),
          );
          const answer = await raw(t, document(kind, field), variables);
          sent++;
          ran += answer.errors?.some((e) => e.extensions.code === 'GRAPHQL_VALIDATION_FAILED') ? 0 : 1;
          const internal = answer.errors?.find((e) => e.extensions.code === 'INTERNAL_SERVER_ERROR');
          if (answer.status >= 500 || internal) {
            failures.push(
              `${field.name} ${JSON.stringify(variables).slice(0, 300)} → ${answer.status} ${internal?.message ?? ''}`,
            );
          }
        }
      }
    }
    expect(sent).toBeGreaterThan(100);
    expect(ran).toBeGreaterThan(sent / 2);
    expect(failures).toEqual([]);
  });
});
