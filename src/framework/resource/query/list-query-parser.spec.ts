import * as qs from 'qs';
import { PROBLEM_TYPES, ProblemException, ProblemFieldError, ProblemInit } from 'src/framework/http/problem';
import { decodeCursor, encodeCursor } from 'src/framework/resource/query/cursors';
import { defaultOperators } from 'src/framework/resource/query/filters';
import { LIST_QUERY_PARAMETERS, parseListQuery } from 'src/framework/resource/query/list-query-parser';
import {
  FieldSpec,
  FieldType,
  FilterOperator,
  FilterTerm,
  ResourceQuerySpec,
} from 'src/framework/resource/query-types';

const field = (path: string, type: FieldType, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  path,
  type,
  nullable: false,
  ...extra,
});

const F = {
  id: field('id', 'integer'),
  name: field('name', 'string'),
  price: field('price', 'decimal'),
  stock: field('stock', 'integer'),
  status: field('status', 'enum', { enumValues: ['draft', 'active', 'archived'] }),
  createdAt: field('createdAt', 'datetime'),
  description: field('description', 'text', { nullable: true }),
  categorySlug: field('category.slug', 'string'),
  weight: field('weight', 'number', { nullable: true }),
  barcode: field('barcode', 'bigint'),
  featured: field('featured', 'boolean'),
  releaseDate: field('releaseDate', 'date', { nullable: true }),
  externalId: field('externalId', 'uuid'),
  attributes: field('attributes', 'json', { nullable: true }),
};

const FILTERABLE = [
  F.id,
  F.name,
  F.price,
  F.stock,
  F.status,
  F.createdAt,
  F.description,
  F.categorySlug,
  F.weight,
  F.barcode,
  F.featured,
  F.releaseDate,
  F.externalId,
  F.attributes,
];
const FILTERABLE_LIST =
  'id, name, price, stock, status, createdAt, description, category.slug, weight, barcode, featured, releaseDate, externalId, attributes';
const SORTABLE = [
  F.id,
  F.name,
  F.price,
  F.stock,
  F.createdAt,
  F.description,
  F.barcode,
  F.releaseDate,
  F.weight,
];
const SELECTABLE = [F.id, F.name, F.price, F.stock, F.status, F.createdAt, F.description];

const byPath = (fields: FieldSpec[]) => new Map(fields.map((f) => [f.path, f]));

/** Filterable entries with the default operator set of each field (or the given ones). */
const filterable = (fields: FieldSpec[], operators: Record<string, FilterOperator[]> = {}) =>
  new Map(
    fields.map((f) => [
      f.path,
      { field: f, operators: new Set(operators[f.path] ?? defaultOperators(f.type, f.nullable)) },
    ]),
  );

/** A Product-like resource; tests override what they need. */
const productSpec = (overrides: Partial<ResourceQuerySpec> = {}): ResourceQuerySpec => ({
  name: 'Product',
  selectable: byPath(SELECTABLE),
  filterable: filterable(FILTERABLE),
  sortable: byPath(SORTABLE),
  defaultSort: [{ path: 'createdAt', direction: 'desc' }],
  includable: new Set(['category', 'tags', 'items', 'items.product']),
  searchable: true,
  idPath: 'id',
  idField: F.id,
  defaultLimit: 20,
  maxLimit: 100,
  ...overrides,
});

/** Parses a real query string the way the app does (`qs`, depth 3), then the list query. */
/** The signature of productSpec's default sort, which a cursor carries first. */
const DEFAULT_SORT = '-createdAt,-id';

const parse = (query: string, spec = productSpec()) => parseListQuery(qs.parse(query, { depth: 3 }), spec);

/** The problem a query is rejected with, failing the test when it is accepted. */
const problemOf = (query: string, spec = productSpec()): ProblemInit => {
  try {
    parse(query, spec);
  } catch (error) {
    expect(error).toBeInstanceOf(ProblemException);
    return (error as ProblemException).problem;
  }
  throw new Error(`expected parseListQuery to reject ${query}`);
};

/** The `[parameter, code]` pairs of a rejected query. */
const failures = (query: string, spec = productSpec()) =>
  (problemOf(query, spec).errors ?? []).map((e: ProblemFieldError) => [e.parameter, e.code]);

const filtersOf = (query: string, spec = productSpec()): FilterTerm[] => parse(query, spec).filters;

describe(parseListQuery.name, () => {
  describe('defaults', () => {
    it('returns page 1, the default limit, the default sort with the id tie-breaker and nothing else', () => {
      const sut = parse('');

      expect(sut).toEqual({
        page: 1,
        limit: 20,
        sort: [
          { path: 'createdAt', direction: 'desc' },
          { path: 'id', direction: 'desc' },
        ],
        filters: [],
        include: [],
      });
    });

    it('uses the id ascending alone when the resource has no default sort', () => {
      expect(parse('', productSpec({ defaultSort: [] })).sort).toEqual([{ path: 'id', direction: 'asc' }]);
    });

    it('does not share the default sort array with the spec', () => {
      const spec = productSpec();

      parse('', spec).sort.push({ path: 'name', direction: 'asc' });

      expect(spec.defaultSort).toEqual([{ path: 'createdAt', direction: 'desc' }]);
    });

    it('never returns a default limit above maxLimit', () => {
      expect(parse('', productSpec({ defaultLimit: 50, maxLimit: 10 })).limit).toBe(10);
    });
  });

  describe('parameters', () => {
    it('accepts all eight parameters together', () => {
      const sut = parse(
        'page=2&limit=5&sort=-price&filter[status]=active&q=blue&fields=name&include=category',
      );

      expect(sut).toEqual({
        page: 2,
        limit: 5,
        sort: [
          { path: 'price', direction: 'desc' },
          { path: 'id', direction: 'desc' },
        ],
        filters: [{ path: 'status', op: 'eq', value: 'active' }],
        q: 'blue',
        fields: ['id', 'name'],
        include: ['category'],
      });
      expect(LIST_QUERY_PARAMETERS).toEqual([
        'page',
        'limit',
        'after',
        'sort',
        'filter',
        'q',
        'fields',
        'include',
        'trashed',
      ]);
    });

    it('rejects an unknown parameter, listing the allowed ones', () => {
      expect(problemOf('offset=10').errors).toEqual([
        {
          parameter: 'offset',
          code: 'unknown',
          message:
            'Unknown query parameter "offset"; allowed: page, limit, after, sort, filter, q, fields, include',
        },
      ]);
    });

    it('leaves q out of the allowed list when the resource is not searchable', () => {
      expect(problemOf('offset=10', productSpec({ searchable: false })).errors?.[0].message).toBe(
        'Unknown query parameter "offset"; allowed: page, limit, after, sort, filter, fields, include',
      );
    });

    it.each(['limit=1&limit=2', 'page=1&page=2', 'q=a&q=b'])('rejects a repeated parameter: %s', (query) => {
      const name = query.slice(0, query.indexOf('='));

      expect(failures(query)).toEqual([[name, 'invalid']]);
      expect(problemOf(query).errors?.[0].message).toContain('more than once');
    });

    it.each(['limit[max]=5', 'sort[by]=name', 'q[x]=a'])('rejects a nested plain parameter: %s', (query) => {
      expect(failures(query)).toEqual([[query.slice(0, query.indexOf('[')), 'invalid']]);
    });

    // OpenAPI's exploded array form, which clients such as openapi-fetch send by default.
    it.each([
      ['sort=name&sort=-price', 'sort=name,-price'],
      ['fields=name&fields=price', 'fields=name,price'],
      ['include=category&include=tags', 'include=category,tags'],
      ['filter[price][in]=1&filter[price][in]=2', 'filter[price][in]=1,2'],
      ['filter[price][in][]=1&filter[price][in][]=2', 'filter[price][in]=1,2'],
    ])('reads the repeated list %s as %s', (repeated, commas) => {
      expect(parse(repeated)).toEqual(parse(commas));
    });

    it('accepts numbers from a programmatic caller', () => {
      expect(parseListQuery({ page: 2, limit: 7 }, productSpec())).toMatchObject({ page: 2, limit: 7 });
    });
  });

  describe('page', () => {
    it('parses a 1-based page', () => {
      expect(parse('page=3').page).toBe(3);
    });

    it.each([
      ['0', 'range'],
      ['-1', 'range'],
      ['9007199254740993', 'range'],
      ['abc', 'type'],
      ['1.5', 'type'],
      ['', 'type'],
      ['1e2', 'type'],
    ])('rejects page=%s with %s', (value, code) => {
      expect(failures(`page=${value}`)).toEqual([['page', code]]);
    });

    it('rejects page together with after', () => {
      const after = encodeCursor(DEFAULT_SORT, ['2024-05-01T12:00:00.000Z', 1]);

      expect(failures(`page=1&after=${after}`)).toEqual([['page', 'invalid']]);
      expect(problemOf(`page=1&after=${after}`).detail).toBe(
        'page: page and after cannot be combined; paginate by page or by cursor',
      );
    });
  });

  describe('limit', () => {
    it('parses a limit within bounds', () => {
      expect(parse('limit=7').limit).toBe(7);
    });

    it.each([
      ['100', 100],
      ['101', 100],
      ['500', 100],
      ['99999999999999999999999999', 100],
      ['1', 1],
    ])('clamps limit=%s to %s', (value, expected) => {
      expect(parse(`limit=${value}`).limit).toBe(expected);
    });

    it('clamps to the resource maxLimit', () => {
      expect(parse('limit=30', productSpec({ maxLimit: 25 })).limit).toBe(25);
    });

    it.each([
      ['0', 'range'],
      ['-5', 'range'],
      ['ten', 'type'],
      ['2.5', 'type'],
      ['', 'type'],
    ])('rejects limit=%s with %s', (value, code) => {
      expect(failures(`limit=${value}`)).toEqual([['limit', code]]);
    });
  });

  describe('sort', () => {
    it.each([
      [
        '-createdAt,name',
        [
          ['createdAt', 'desc'],
          ['name', 'asc'],
          ['id', 'asc'],
        ],
      ],
      [
        '-price',
        [
          ['price', 'desc'],
          ['id', 'desc'],
        ],
      ],
      [
        'name,-stock',
        [
          ['name', 'asc'],
          ['stock', 'desc'],
          ['id', 'desc'],
        ],
      ],
      ['id', [['id', 'asc']]],
      ['-id', [['id', 'desc']]],
      [
        '-id,name',
        [
          ['id', 'desc'],
          ['name', 'asc'],
        ],
      ],
      [
        '',
        [
          ['createdAt', 'desc'],
          ['id', 'desc'],
        ],
      ],
    ])('sort=%s → %j', (value, expected) => {
      expect(parse(`sort=${value}`).sort).toEqual(expected.map(([path, direction]) => ({ path, direction })));
    });

    it('always accepts the id even when it is not in the sortable map', () => {
      const spec = productSpec({ sortable: byPath([F.name]) });

      expect(parse('sort=-id', spec).sort).toEqual([{ path: 'id', direction: 'desc' }]);
    });

    it('rejects an unknown sort field, listing the sortable ones', () => {
      expect(problemOf('sort=-colour').errors).toEqual([
        {
          parameter: 'sort',
          code: 'unknown',
          message:
            'Unknown sort field "colour" on Product; sortable: id, name, price, stock, createdAt, description, barcode, releaseDate, weight',
        },
      ]);
    });

    it('rejects a field that is filterable but not sortable', () => {
      expect(failures('sort=status')).toEqual([['sort', 'unknown']]);
    });

    it.each(['name,-name', 'price,price', 'id,-id'])('rejects a duplicate sort field: %s', (value) => {
      expect(failures(`sort=${value}`)).toEqual([['sort', 'invalid']]);
    });

    it.each(['name,', '-', ',name', 'name,,price'])('rejects an empty sort term: %s', (value) => {
      expect(failures(`sort=${value}`)).toEqual([['sort', 'invalid']]);
    });
  });

  describe('filter', () => {
    it.each<[string, FilterTerm]>([
      ['filter[name]=Widget', { path: 'name', op: 'eq', value: 'Widget' }],
      ['filter[name][eq]=Widget', { path: 'name', op: 'eq', value: 'Widget' }],
      ['filter[name][ne]=Widget', { path: 'name', op: 'ne', value: 'Widget' }],
      ['filter[name][in]=a,b', { path: 'name', op: 'in', value: ['a', 'b'] }],
      ['filter[name][nin]=a', { path: 'name', op: 'nin', value: ['a'] }],
      ['filter[name][contains]=idg', { path: 'name', op: 'contains', value: 'idg' }],
      ['filter[name][icontains]=IDG', { path: 'name', op: 'icontains', value: 'IDG' }],
      ['filter[name][startswith]=Wid', { path: 'name', op: 'startswith', value: 'Wid' }],
      ['filter[name]=', { path: 'name', op: 'eq', value: '' }],
      ['filter[description][contains]=soft', { path: 'description', op: 'contains', value: 'soft' }],
      ['filter[description][isnull]=true', { path: 'description', op: 'isnull', value: true }],
      ['filter[description][isnull]=0', { path: 'description', op: 'isnull', value: false }],
      ['filter[price]=10', { path: 'price', op: 'eq', value: '10' }],
      ['filter[price][gt]=10', { path: 'price', op: 'gt', value: '10' }],
      ['filter[price][gte]=10.50', { path: 'price', op: 'gte', value: '10.5' }],
      ['filter[price][lt]=-3.25', { path: 'price', op: 'lt', value: '-3.25' }],
      ['filter[price][lte]=0099.90', { path: 'price', op: 'lte', value: '99.9' }],
      ['filter[price][in]=1,2.50', { path: 'price', op: 'in', value: ['1', '2.5'] }],
      ['filter[price][between]=1,2.5', { path: 'price', op: 'between', value: ['1', '2.5'] }],
      ['filter[price][between]=9.5,10', { path: 'price', op: 'between', value: ['9.5', '10'] }],
      ['filter[price][between]=2,2.00', { path: 'price', op: 'between', value: ['2', '2'] }],
      ['filter[stock][ne]=0', { path: 'stock', op: 'ne', value: 0 }],
      ['filter[stock][nin]=1,2', { path: 'stock', op: 'nin', value: [1, 2] }],
      ['filter[stock][between]=-1,10', { path: 'stock', op: 'between', value: [-1, 10] }],
      ['filter[status]=active', { path: 'status', op: 'eq', value: 'active' }],
      ['filter[status][in]=draft,active', { path: 'status', op: 'in', value: ['draft', 'active'] }],
      ['filter[status][ne]=archived', { path: 'status', op: 'ne', value: 'archived' }],
      [
        'filter[createdAt][gte]=2024-05-01T12:00:00Z',
        { path: 'createdAt', op: 'gte', value: new Date('2024-05-01T12:00:00Z') },
      ],
      [
        'filter[createdAt][between]=2024-01-01,2024-12-31T23:59:59Z',
        {
          path: 'createdAt',
          op: 'between',
          value: [new Date('2024-01-01T00:00:00Z'), new Date('2024-12-31T23:59:59Z')],
        },
      ],
      ['filter[category.slug]=books', { path: 'category.slug', op: 'eq', value: 'books' }],
      ['filter[weight][lt]=2.5', { path: 'weight', op: 'lt', value: 2.5 }],
      ['filter[weight][isnull]=false', { path: 'weight', op: 'isnull', value: false }],
      ['filter[barcode]=9007199254740993', { path: 'barcode', op: 'eq', value: '9007199254740993' }],
      ['filter[featured]=true', { path: 'featured', op: 'eq', value: true }],
      ['filter[featured][ne]=0', { path: 'featured', op: 'ne', value: false }],
      [
        'filter[releaseDate][between]=2024-01-01,2024-02-29',
        { path: 'releaseDate', op: 'between', value: ['2024-01-01', '2024-02-29'] },
      ],
      ['filter[releaseDate][isnull]=1', { path: 'releaseDate', op: 'isnull', value: true }],
      [
        'filter[externalId]=A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
        { path: 'externalId', op: 'eq', value: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
      ],
      ['filter[attributes][isnull]=true', { path: 'attributes', op: 'isnull', value: true }],
    ])('%s', (query, expected) => {
      expect(filtersOf(query)).toEqual([expected]);
    });

    it('reads a relation path with a dot as one key (qs allowDots is off)', () => {
      expect(qs.parse('filter[category.slug]=books', { depth: 3 })).toEqual({
        filter: { 'category.slug': 'books' },
      });
      expect(filtersOf('filter[category.slug][in]=books,music')).toEqual([
        { path: 'category.slug', op: 'in', value: ['books', 'music'] },
      ]);
    });

    it('keeps several operators on one field and several fields, in query order', () => {
      expect(filtersOf('filter[price][gte]=10&filter[price][lte]=20&filter[status]=active')).toEqual([
        { path: 'price', op: 'gte', value: '10' },
        { path: 'price', op: 'lte', value: '20' },
        { path: 'status', op: 'eq', value: 'active' },
      ]);
    });

    it('accepts exactly 100 in items and a 1000-character value', () => {
      const hundred = Array.from({ length: 100 }, (_, i) => String(i)).join(',');

      expect(filtersOf(`filter[stock][in]=${hundred}`)[0].value).toHaveLength(100);
      expect(filtersOf(`filter[name]=${'x'.repeat(1000)}`)[0].value).toHaveLength(1000);
    });

    it.each([
      ['filter[price][gte]=abc', 'filter[price][gte]', 'type'],
      ['filter[price]=1e3', 'filter[price]', 'type'],
      ['filter[price][gt]=.5', 'filter[price][gt]', 'type'],
      ['filter[price][lt]=', 'filter[price][lt]', 'type'],
      ['filter[price][lte]=1.', 'filter[price][lte]', 'type'],
      ['filter[price][ne]=+1', 'filter[price][ne]', 'type'],
      ['filter[stock][eq]=1.5', 'filter[stock][eq]', 'type'],
      ['filter[stock][gt]=9007199254740993', 'filter[stock][gt]', 'range'],
      ['filter[stock][in]=1,x', 'filter[stock][in]', 'type'],
      ['filter[stock][nin]=1,,2', 'filter[stock][nin]', 'invalid'],
      ['filter[name][in]=', 'filter[name][in]', 'range'],
      ['filter[name][nin]=a,,b', 'filter[name][nin]', 'invalid'],
      ['filter[name][ne]=' + 'x'.repeat(1001), 'filter[name][ne]', 'range'],
      ['filter[name][in]=a,' + 'x'.repeat(1001), 'filter[name][in]', 'range'],
      ['filter[name][contains]=', 'filter[name][contains]', 'range'],
      ['filter[name][icontains]=', 'filter[name][icontains]', 'range'],
      ['filter[name][startswith]=', 'filter[name][startswith]', 'range'],
      ['filter[price][between]=1', 'filter[price][between]', 'invalid'],
      ['filter[price][between]=1,2,3', 'filter[price][between]', 'invalid'],
      ['filter[price][between]=10,9.99', 'filter[price][between]', 'range'],
      ['filter[price][between]=1,x', 'filter[price][between]', 'type'],
      ['filter[price][between]=,2', 'filter[price][between]', 'invalid'],
      ['filter[stock][between]=10,-1', 'filter[stock][between]', 'range'],
      ['filter[createdAt][between]=2024-02-01,2024-01-01', 'filter[createdAt][between]', 'range'],
      ['filter[releaseDate][between]=2024-02-01,2024-01-31', 'filter[releaseDate][between]', 'range'],
      ['filter[barcode][between]=10,9', 'filter[barcode][between]', 'range'],
      ['filter[weight][between]=2.5,1', 'filter[weight][between]', 'range'],
      ['filter[status]=deleted', 'filter[status]', 'type'],
      ['filter[status][in]=draft,deleted', 'filter[status][in]', 'type'],
      ['filter[description][isnull]=maybe', 'filter[description][isnull]', 'type'],
      ['filter[createdAt][lt]=2024-05-01T12:00:00', 'filter[createdAt][lt]', 'type'],
      ['filter[weight][gt]=abc', 'filter[weight][gt]', 'type'],
      ['filter[weight][gt]=1e999', 'filter[weight][gt]', 'range'],
      ['filter[barcode]=9223372036854775808', 'filter[barcode]', 'range'],
      ['filter[barcode]=12a', 'filter[barcode]', 'type'],
      ['filter[featured]=yes', 'filter[featured]', 'type'],
      ['filter[releaseDate]=2023-02-29', 'filter[releaseDate]', 'type'],
      ['filter[externalId]=not-a-uuid', 'filter[externalId]', 'type'],
      ['filter[externalId][in]=a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,nope', 'filter[externalId][in]', 'type'],
    ])('rejects %s as %s (%s)', (query, parameter, code) => {
      expect(failures(query)).toEqual([[parameter, code]]);
    });

    it('rejects more than 100 in items', () => {
      const many = Array.from({ length: 101 }, (_, i) => String(i)).join(',');

      expect(failures(`filter[stock][in]=${many}`)).toEqual([['filter[stock][in]', 'range']]);
    });

    it('names the field, the value and the expected type in a coercion message', () => {
      expect(problemOf('filter[price][gte]=abc').errors?.[0].message).toBe(
        '"abc" is not valid for price: expected a decimal number such as 12.50',
      );
      expect(problemOf('filter[status]=deleted').errors?.[0].message).toBe(
        '"deleted" is not valid for status: expected one of: draft, active, archived',
      );
    });

    describe('integers are bounded by their column type, as PostgreSQL would bound them', () => {
      // `rank` is a smallint column; an integer field without a width is PostgreSQL's `integer` (int4).
      const rank: FieldSpec = { ...field('rank', 'integer'), integerFormat: 'int16' };
      const spec = productSpec({ filterable: filterable([...FILTERABLE, rank]) });

      it.each([
        ['filter[rank]=32768', 'filter[rank]'],
        ['filter[rank][gte]=-32769', 'filter[rank][gte]'],
        ['filter[rank][in]=1,40000', 'filter[rank][in]'],
        ['filter[rank][between]=-40000,0', 'filter[rank][between]'],
        ['filter[stock]=99999999999', 'filter[stock]'],
        ['filter[stock][gt]=2147483648', 'filter[stock][gt]'],
        ['filter[stock][lt]=-2147483649', 'filter[stock][lt]'],
        ['filter[stock][nin]=0,2147483648', 'filter[stock][nin]'],
        ['filter[id][in]=1,2147483648', 'filter[id][in]'],
        ['filter[barcode][in]=1,9223372036854775808', 'filter[barcode][in]'],
        ['filter[barcode][gt]=-9223372036854775809', 'filter[barcode][gt]'],
      ])('refuses %s as out of range', (query, parameter) => {
        expect(failures(query, spec)).toEqual([[parameter, 'range']]);
      });

      it.each([
        ['filter[rank][between]=-32768,32767', [-32768, 32767]],
        ['filter[stock][in]=-2147483648,2147483647', [-2147483648, 2147483647]],
        ['filter[barcode][in]=-9223372036854775808', ['-9223372036854775808']],
      ])('accepts the bounds: %s', (query, value) => {
        expect(filtersOf(query, spec)[0].value).toEqual(value);
      });

      it('says what the column holds', () => {
        expect(problemOf('filter[rank][in]=1,40000', spec).errors?.[0].message).toBe(
          '"40000" is out of range for rank: expected an integer from -32768 to 32767',
        );
        expect(problemOf('filter[stock]=99999999999', spec).errors?.[0].message).toBe(
          '"99999999999" is out of range for stock: expected an integer from -2147483648 to 2147483647',
        );
        expect(problemOf('filter[barcode]=x', spec).errors?.[0].message).toBe(
          '"x" is not valid for barcode: expected an integer from -9223372036854775808 to 9223372036854775807',
        );
      });
    });

    it.each([
      ['filter[price][foo]=1', 'filter[price][foo]'],
      ['filter[status][gt]=active', 'filter[status][gt]'],
      ['filter[status][contains]=act', 'filter[status][contains]'],
      ['filter[price][icontains]=1', 'filter[price][icontains]'],
      ['filter[stock][startswith]=1', 'filter[stock][startswith]'],
      ['filter[featured][gt]=true', 'filter[featured][gt]'],
      ['filter[featured][in]=true', 'filter[featured][in]'],
      ['filter[externalId][between]=a,b', 'filter[externalId][between]'],
      ['filter[name][between]=a,b', 'filter[name][between]'],
      ['filter[price][isnull]=true', 'filter[price][isnull]'],
      ['filter[attributes]=x', 'filter[attributes]'],
      ['filter[attributes][contains]=x', 'filter[attributes][contains]'],
    ])('rejects the operator in %s', (query, parameter) => {
      expect(failures(query)).toEqual([[parameter, 'operator']]);
    });

    it('lists the operators a field allows when the operator is unknown', () => {
      expect(problemOf('filter[price][foo]=1').errors?.[0].message).toBe(
        'Unknown operator "foo" on price; allowed: eq, ne, gt, gte, lt, lte, in, nin, between',
      );
    });

    it('narrows a declared operator set by type and nullability', () => {
      const spec = productSpec({
        filterable: filterable(FILTERABLE, {
          stock: ['eq', 'contains', 'isnull'],
          attributes: ['eq', 'isnull'],
          description: ['eq', 'isnull'],
        }),
      });

      expect(failures('filter[stock][contains]=1', spec)).toEqual([['filter[stock][contains]', 'operator']]);
      expect(failures('filter[stock][isnull]=true', spec)).toEqual([['filter[stock][isnull]', 'operator']]);
      expect(failures('filter[attributes]=x', spec)).toEqual([['filter[attributes]', 'operator']]);
      expect(problemOf('filter[stock][gt]=1', spec).errors?.[0].message).toBe(
        'Operator gt is not allowed on stock (integer); allowed: eq',
      );
      expect(filtersOf('filter[description][isnull]=true', spec)).toEqual([
        { path: 'description', op: 'isnull', value: true },
      ]);
    });

    it('only accepts operators in the declared set', () => {
      const spec = productSpec({ filterable: filterable(FILTERABLE, { price: ['eq'] }) });

      expect(failures('filter[price][gte]=1', spec)).toEqual([['filter[price][gte]', 'operator']]);
      expect(filtersOf('filter[price]=1', spec)).toEqual([{ path: 'price', op: 'eq', value: '1' }]);
    });

    it('rejects an unknown field with the parameter as written and the filterable list', () => {
      expect(problemOf('filter[prise][gte]=10').errors).toEqual([
        {
          parameter: 'filter[prise]',
          code: 'unknown',
          message: `Unknown filter field "prise" on Product; filterable: ${FILTERABLE_LIST}`,
        },
      ]);
    });

    it('points a nested relation spelling at the dotted path', () => {
      const [error] = problemOf('filter[category][slug]=books').errors ?? [];

      expect(error).toMatchObject({ parameter: 'filter[category]', code: 'unknown' });
      expect(error.message).toContain('(write filter[category.slug] for a relation path)');
    });

    it.each([
      ['filter[price]=1&filter[price]=2', 'filter[price]'],
      ['filter[price]=1&filter[price][gte]=2', 'filter[price]'],
      ['filter[price][gte]=1&filter[price][gte]=2', 'filter[price][gte]'],
      ['filter[price][gte][x]=1', 'filter[price][gte]'],
      ['filter[price][gte]=1&filter[price][gte]=2', 'filter[price][gte]'],
      ['filter=price', 'filter'],
      ['filter[]=price', 'filter'],
    ])('rejects the malformed filter %s', (query, parameter) => {
      expect(failures(query)).toEqual([[parameter, 'invalid']]);
    });
  });

  describe('value coercion', () => {
    it.each<[string, string, unknown]>([
      ['stock', '42', 42],
      ['stock', '-7', -7],
      ['stock', '007', 7],
      ['stock', '-0', 0],
      ['barcode', '9223372036854775807', '9223372036854775807'],
      ['barcode', '-9223372036854775808', '-9223372036854775808'],
      ['barcode', '007', '7'],
      ['weight', '1.5', 1.5],
      ['weight', '-2', -2],
      ['weight', '1e3', 1000],
      ['weight', '.5', 0.5],
      ['price', '12.50', '12.5'],
      ['price', '007', '7'],
      ['price', '-0.00', '0'],
      ['price', '100', '100'],
      ['price', '-0.010', '-0.01'],
      ['featured', 'true', true],
      ['featured', '1', true],
      ['featured', 'false', false],
      ['featured', '0', false],
      ['releaseDate', '2024-02-29', '2024-02-29'],
      ['releaseDate', '2000-02-29', '2000-02-29'],
      ['createdAt', '2024-05-01T12:00:00Z', new Date('2024-05-01T12:00:00.000Z')],
      ['createdAt', '2024-05-01T14:00:00+02:00', new Date('2024-05-01T12:00:00.000Z')],
      ['createdAt', '2024-05-01T14:00:00+0200', new Date('2024-05-01T12:00:00.000Z')],
      ['createdAt', '2024-05-01T07:30-04:30', new Date('2024-05-01T12:00:00.000Z')],
      ['createdAt', '2024-05-01T12:00:00.123456Z', new Date('2024-05-01T12:00:00.123Z')],
      ['createdAt', '2024-05-01T12:00:00.5Z', new Date('2024-05-01T12:00:00.500Z')],
      ['createdAt', '2024-05-01', new Date('2024-05-01T00:00:00.000Z')],
      ['createdAt', '0050-01-01T00:00:00Z', new Date('0050-01-01T00:00:00.000Z')],
      ['externalId', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
      ['status', 'draft', 'draft'],
      ['name', ' spaced, and "quoted" ', ' spaced, and "quoted" '],
    ])('%s: %j → %j', (path, raw, expected) => {
      expect(parseListQuery({ filter: { [path]: raw } }, productSpec()).filters[0].value).toEqual(expected);
    });

    it('reads an unencoded + in a timezone offset (decoded to a space) as +', () => {
      expect(filtersOf('filter[createdAt][gte]=2024-05-01T14:00:00+02:00')[0].value).toEqual(
        new Date('2024-05-01T12:00:00.000Z'),
      );
    });

    it.each([
      ['stock', ''],
      ['stock', ' 1'],
      ['stock', '1e3'],
      ['stock', '0x10'],
      ['barcode', '1.0'],
      ['weight', ''],
      ['weight', ' '],
      ['weight', '0x10'],
      ['weight', 'Infinity'],
      ['weight', 'NaN'],
      ['price', '1e3'],
      ['price', '1,5'],
      ['price', 'abc'],
      ['featured', 'TRUE'],
      ['featured', 'yes'],
      ['featured', ''],
      ['releaseDate', '2023-02-29'],
      ['releaseDate', '1900-02-29'],
      ['releaseDate', '2024-13-01'],
      ['releaseDate', '2024-04-31'],
      ['releaseDate', '2024-00-10'],
      ['releaseDate', '2024-1-1'],
      ['releaseDate', '2024-05-01T00:00:00Z'],
      ['createdAt', '2024-05-01T12:00:00'],
      ['createdAt', '2024-02-30T00:00:00Z'],
      ['createdAt', '2024-05-01T24:00:00Z'],
      ['createdAt', '2024-05-01T12:60:00Z'],
      ['createdAt', '2024-05-01T12:00:60Z'],
      ['createdAt', '2024-05-01T12:00:00+24:00'],
      ['createdAt', '2024-05-01 12:00:00Z'],
      ['createdAt', 'yesterday'],
      ['createdAt', '1714564800000'],
      ['externalId', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1'],
      ['externalId', 'a0eebc999c0b4ef8bb6d6bb9bd380a11'],
      ['externalId', 'g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
      ['status', 'Active'],
      ['status', ''],
    ])('%s rejects %j', (path, raw) => {
      expect(() => parseListQuery({ filter: { [path]: raw } }, productSpec())).toThrow(ProblemException);
    });
  });

  describe('q', () => {
    it('accepts search text, trimmed', () => {
      expect(parse('q=blue+widget').q).toBe('blue widget');
      expect(parse('q=%20%20padded%20').q).toBe('padded');
    });

    it('accepts 200 characters', () => {
      expect(parse(`q=${'a'.repeat(200)}`).q).toHaveLength(200);
    });

    it.each(['', '%20%20', 'a'.repeat(201)])('rejects q=%s', (value) => {
      expect(failures(`q=${value}`)).toEqual([['q', 'range']]);
    });

    it('rejects q when the resource has no search fields', () => {
      expect(problemOf('q=blue', productSpec({ searchable: false })).errors).toEqual([
        {
          parameter: 'q',
          code: 'unknown',
          message:
            'Product has no search fields, so q is not accepted; allowed: page, limit, after, sort, filter, fields, include',
        },
      ]);
    });

    it('rejects a repeated q', () => {
      expect(failures('q=a&q=b')).toEqual([['q', 'invalid']]);
    });
  });

  describe('trashed', () => {
    const trashable = productSpec({ softDelete: true });

    it.each(['only', 'with'] as const)('accepts trashed=%s on a soft-deleting resource', (value) => {
      expect(parse(`trashed=${value}`, trashable).trashed).toBe(value);
      expect(parse('', trashable)).not.toHaveProperty('trashed');
    });

    it.each(['all', '', 'ONLY', 'without'])('rejects trashed=%s, naming the accepted values', (value) => {
      expect(problemOf(`trashed=${value}`, trashable).errors).toEqual([
        {
          parameter: 'trashed',
          code: 'invalid',
          message: `trashed must be "only" (deleted rows) or "with" (all rows), got ${JSON.stringify(value)}`,
        },
      ]);
    });

    it('rejects a repeated trashed', () => {
      expect(failures('trashed=only&trashed=with', trashable)).toEqual([['trashed', 'invalid']]);
    });

    it('rejects trashed on a resource without soft delete, and lists it as allowed where it is', () => {
      expect(problemOf('trashed=only').errors).toEqual([
        {
          parameter: 'trashed',
          code: 'unknown',
          message:
            'Product has no soft delete, so trashed is not accepted; allowed: page, limit, after, sort, filter, q, fields, include',
        },
      ]);
      expect(problemOf('offset=1', trashable).errors?.[0].message).toBe(
        'Unknown query parameter "offset"; allowed: page, limit, after, sort, filter, q, fields, include, trashed',
      );
    });
  });

  describe('fields', () => {
    it.each([
      ['name,price', ['id', 'name', 'price']],
      ['price,name', ['id', 'price', 'name']],
      ['id', ['id']],
      ['name,id', ['id', 'name']],
      ['name,name,price,name', ['id', 'name', 'price']],
    ])('fields=%s → %j', (value, expected) => {
      expect(parse(`fields=${value}`).fields).toEqual(expected);
    });

    it('returns no field list when fields is absent or empty', () => {
      expect(parse('').fields).toBeUndefined();
      expect(parse('fields=').fields).toBeUndefined();
    });

    it('rejects an unknown field, listing the selectable ones', () => {
      expect(problemOf('fields=name,colour').errors).toEqual([
        {
          parameter: 'fields',
          code: 'unknown',
          message:
            'Unknown field "colour" on Product; selectable: id, name, price, stock, status, createdAt, description',
        },
      ]);
    });

    it('rejects a field that is filterable but not selectable', () => {
      expect(failures('fields=category.slug')).toEqual([['fields', 'unknown']]);
    });

    it('reports every unknown field', () => {
      expect(failures('fields=a,name,b')).toEqual([
        ['fields', 'unknown'],
        ['fields', 'unknown'],
      ]);
    });

    it.each(['name,,price', 'name,', ','])('rejects an empty entry: fields=%s', (value) => {
      expect(failures(`fields=${value}`)).toContainEqual(['fields', 'invalid']);
    });
  });

  describe('include', () => {
    it.each([
      ['category,items.product', ['category', 'items.product']],
      ['tags,tags,items', ['tags', 'items']],
      ['items,items.product', ['items', 'items.product']],
    ])('include=%s → %j', (value, expected) => {
      expect(parse(`include=${value}`).include).toEqual(expected);
    });

    it('returns no includes when include is absent or empty', () => {
      expect(parse('').include).toEqual([]);
      expect(parse('include=').include).toEqual([]);
    });

    it('rejects an unknown include, listing the includable ones', () => {
      expect(problemOf('include=supplier').errors).toEqual([
        {
          parameter: 'include',
          code: 'unknown',
          message: 'Unknown include "supplier" on Product; includable: category, tags, items, items.product',
        },
      ]);
    });

    it('rejects a path nested deeper than 2 even when the resource declares it', () => {
      const spec = productSpec({ includable: new Set(['items', 'items.product', 'items.product.category']) });

      expect(failures('include=items.product.category', spec)).toEqual([['include', 'range']]);
    });

    it.each(['category,,tags', 'category,'])('rejects an empty entry: include=%s', (value) => {
      expect(failures(`include=${value}`)).toEqual([['include', 'invalid']]);
    });
  });

  describe('after (cursor)', () => {
    const createdAt = new Date('2024-05-01T12:00:00.000Z');

    it('round-trips a cursor for the default sort into typed values, without a page', () => {
      // The service encodes timestamps as ISO text with microseconds; they stay text so none is lost.
      const micro = '2024-05-01T12:00:00.123456Z';
      const sut = parse(`after=${encodeCursor(DEFAULT_SORT, [micro, 42])}`);

      expect(sut.after).toEqual([micro, 42]);
      expect(sut.page).toBeUndefined();
      expect(sut.limit).toBe(20);
    });

    it('round-trips a cursor for a client sort', () => {
      const after = encodeCursor('-price,name,id', ['12.50', 'Widget', 7]);

      expect(parse(`sort=-price,name&after=${after}`).after).toEqual(['12.5', 'Widget', 7]);
    });

    it('round-trips bigint, date and number values', () => {
      const after = encodeCursor('barcode,releaseDate,weight,id', [
        9223372036854775807n,
        '2024-02-29',
        1.25,
        3,
      ]);

      expect(parse(`sort=barcode,releaseDate,weight&after=${after}`).after).toEqual([
        '9223372036854775807',
        '2024-02-29',
        1.25,
        3,
      ]);
    });

    it('round-trips NaN and ±Infinity of float and numeric columns (JSON would make them null)', () => {
      for (const value of [Number.NaN, Infinity, -Infinity]) {
        const weight = encodeCursor('weight,id', [value, 3]);
        expect(parse(`sort=weight&after=${weight}`).after).toEqual([String(value), 3]);
        const price = encodeCursor('price,id', [String(value), 3]);
        expect(parse(`sort=price&after=${price}`).after).toEqual([String(value), 3]);
      }
      expect(failures(`sort=price&after=${encodeCursor('price,id', ['nan', 3])}`)).toEqual([
        ['after', 'invalid'],
      ]);
    });

    it('reads a date column encoded from a Date as its UTC day', () => {
      const after = encodeCursor('releaseDate,id', [new Date('2024-02-29T00:00:00.000Z'), 3]);

      expect(parse(`sort=releaseDate&after=${after}`).after).toEqual(['2024-02-29', 3]);
    });

    it('accepts null for a nullable sort column only', () => {
      expect(parse(`sort=description&after=${encodeCursor('description,id', [null, 3])}`).after).toEqual([
        null,
        3,
      ]);
      expect(failures(`sort=name&after=${encodeCursor('name,id', [null, 3])}`)).toEqual([
        ['after', 'invalid'],
      ]);
    });

    it('rejects a cursor made for another sort (wrong arity)', () => {
      const after = encodeCursor(DEFAULT_SORT, [createdAt, 42]);

      expect(failures(`sort=-price,name&after=${after}`)).toEqual([['after', 'invalid']]);
      expect(failures(`after=${encodeCursor(DEFAULT_SORT, [42])}`)).toEqual([['after', 'invalid']]);
      // Well-typed values for the first terms, but the id is missing.
      expect(failures(`sort=name,-stock&after=${encodeCursor('name,-stock,-id', ['Widget', 7])}`)).toEqual([
        ['after', 'invalid'],
      ]);
      expect(failures(`sort=name&after=${encodeCursor('name,id', ['Widget', 7, 8])}`)).toEqual([
        ['after', 'invalid'],
      ]);
    });

    it('rejects a cursor made for another sort of the same shape (its values would select other rows)', () => {
      const after = encodeCursor('name,id', ['Widget', 7]);

      expect(parse(`sort=name&after=${after}`).after).toEqual(['Widget', 7]);
      for (const sort of ['-name', 'description']) {
        expect(problemOf(`sort=${sort}&after=${after}`).errors).toEqual([
          {
            parameter: 'after',
            code: 'invalid',
            message: `after was made for another sort than ${sort},${sort.startsWith('-') ? '-' : ''}id; keep the sort of the request that returned the cursor`,
          },
        ]);
      }
    });

    it.each<[string, unknown[]]>([
      ['a bad date', ['yesterday', 42]],
      ['a string id', [createdAt, 'x']],
      ['a fractional id', [createdAt, 1.5]],
      ['a null id', [createdAt, null]],
      ['an object', [{ at: createdAt }, 42]],
      ['a number for a date', [1714564800000, 42]],
    ])('rejects a cursor with %s', (_label, values) => {
      expect(failures(`after=${encodeCursor(DEFAULT_SORT, values)}`)).toEqual([['after', 'invalid']]);
    });

    const json = (text: string) => Buffer.from(text).toString('base64url');

    it.each([
      ['an empty cursor', ''],
      ['base64 padding', `${json('[1,2]')}=`],
      ['standard base64 characters', '+/+/'],
      ['not base64 at all', 'not a cursor!'],
      ['not JSON', json('hello')],
      ['a JSON object', json('{"createdAt":"2024-05-01T12:00:00.000Z","id":1}')],
      ['a JSON string', json('"2024-05-01"')],
      ['an oversized cursor', 'A'.repeat(9000)],
    ])('rejects %s', (_label, cursor) => {
      expect(problemOf(`after=${encodeURIComponent(cursor)}`).errors).toEqual([
        {
          parameter: 'after',
          code: 'invalid',
          message: 'after is not a valid cursor; pass meta.nextCursor from the previous page unchanged',
        },
      ]);
    });

    it('rejects a non-canonical spelling of valid cursor bytes', () => {
      const valid = encodeCursor(DEFAULT_SORT, ['2024-05-01T12:00:00.000Z', 123]);
      expect(valid.length % 4).not.toBe(0); // the last character carries unused bits
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const tampered = valid.slice(0, -1) + alphabet[alphabet.indexOf(valid[valid.length - 1]) + 1];
      expect(Buffer.from(tampered, 'base64url')).toEqual(Buffer.from(valid, 'base64url'));

      expect(failures(`after=${tampered}`)).toEqual([['after', 'invalid']]);
    });

    it('reports only the sort when the sort is wrong', () => {
      expect(failures(`sort=colour&after=${encodeCursor(DEFAULT_SORT, [createdAt, 42])}`)).toEqual([
        ['sort', 'unknown'],
      ]);
    });

    it('rejects a repeated after', () => {
      const after = encodeCursor(DEFAULT_SORT, [createdAt, 42]);

      expect(failures(`after=${after}&after=${after}`)).toEqual([['after', 'invalid']]);
    });
  });

  describe('errors', () => {
    it('is a 400 bad-query problem naming the parameter as written', () => {
      let thrown: unknown;
      try {
        parse('filter[prise]=10');
      } catch (error) {
        thrown = error;
      }

      expect(thrown).toBeInstanceOf(ProblemException);
      expect((thrown as ProblemException).getStatus()).toBe(400);
      expect((thrown as ProblemException).problem).toEqual({
        type: PROBLEM_TYPES.badQuery,
        title: 'Bad request parameters',
        status: 400,
        detail: `filter[prise]: Unknown filter field "prise" on Product; filterable: ${FILTERABLE_LIST}`,
        errors: [
          {
            parameter: 'filter[prise]',
            code: 'unknown',
            message: `Unknown filter field "prise" on Product; filterable: ${FILTERABLE_LIST}`,
          },
        ],
      });
    });

    it('names the operator parameter and the value in the detail', () => {
      expect(problemOf('filter[price][gte]=cheap').detail).toBe(
        'filter[price][gte]: "cheap" is not valid for price: expected a decimal number such as 12.50',
      );
    });

    it('collects every error of a request', () => {
      const problem = problemOf(
        'bogus=1&limit=0&sort=colour&filter[prise]=1&filter[price][gte]=x&q=&fields=colour&include=supplier',
      );

      expect(problem.errors?.map((e) => [e.parameter, e.code])).toEqual([
        ['bogus', 'unknown'],
        ['limit', 'range'],
        ['sort', 'unknown'],
        ['filter[prise]', 'unknown'],
        ['filter[price][gte]', 'type'],
        ['q', 'range'],
        ['fields', 'unknown'],
        ['include', 'unknown'],
      ]);
      for (const parameter of [
        'bogus',
        'limit',
        'sort',
        'filter[prise]',
        'filter[price][gte]',
        'q',
        'fields',
      ]) {
        expect(problem.detail).toContain(`${parameter}: `);
      }
      expect(problem.detail?.split(' | ')).toHaveLength(8);
    });
  });
});

describe(encodeCursor.name, () => {
  it('makes an opaque base64url string of the sort and the JSON values, dates as ISO strings', () => {
    const sut = encodeCursor('-createdAt,name,-id', [new Date('2024-05-01T12:00:00.000Z'), 'a/b+c?', 42]);

    expect(sut).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(sut, 'base64url').toString('utf8'))).toEqual([
      '-createdAt,name,-id',
      '2024-05-01T12:00:00.000Z',
      'a/b+c?',
      42,
    ]);
  });

  it('writes bigint values as decimal strings', () => {
    expect(decodeCursor(encodeCursor('barcode,id', [12345678901234567890n, 1]))).toEqual([
      'barcode,id',
      '12345678901234567890',
      1,
    ]);
  });
});

describe(decodeCursor.name, () => {
  it('returns the raw values of a cursor', () => {
    expect(decodeCursor(encodeCursor('a,b,c,id', ['x', null, true, 1.5]))).toEqual([
      'a,b,c,id',
      'x',
      null,
      true,
      1.5,
    ]);
  });

  it.each(['', '!!', 'e30', Buffer.from('nope').toString('base64url'), 'A'.repeat(9000)])(
    'returns undefined for %j',
    (cursor) => {
      expect(decodeCursor(cursor)).toBeUndefined();
    },
  );
});

describe(defaultOperators.name, () => {
  it.each<[FieldType, FilterOperator[]]>([
    ['string', ['eq', 'ne', 'in', 'nin', 'contains', 'icontains', 'startswith', 'isnull']],
    ['text', ['eq', 'ne', 'in', 'nin', 'contains', 'icontains', 'startswith', 'isnull']],
    ['integer', ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isnull']],
    ['bigint', ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isnull']],
    ['number', ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isnull']],
    ['decimal', ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isnull']],
    ['date', ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isnull']],
    ['datetime', ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isnull']],
    ['boolean', ['eq', 'ne', 'isnull']],
    ['enum', ['eq', 'ne', 'in', 'nin', 'isnull']],
    ['uuid', ['eq', 'ne', 'in', 'nin', 'isnull']],
    ['json', ['isnull']],
  ])('%s → %j (nullable)', (type, expected) => {
    expect(defaultOperators(type)).toEqual(expected);
    expect(defaultOperators(type, true)).toEqual(expected);
  });

  it.each<FieldType>(['string', 'integer', 'boolean', 'enum', 'json'])(
    '%s drops isnull when not nullable',
    (type) => {
      expect(defaultOperators(type, false)).toEqual(defaultOperators(type).filter((op) => op !== 'isnull'));
      expect(defaultOperators(type, false)).not.toContain('isnull');
    },
  );

  it('returns a fresh array each time', () => {
    defaultOperators('string').push('gt');

    expect(defaultOperators('string')).not.toContain('gt');
  });
});
