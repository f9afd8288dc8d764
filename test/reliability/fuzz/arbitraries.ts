import fc from 'fast-check';
import { JsonSchema, OpenApiDocument, Operation, resolve } from 'test/reliability/fuzz/openapi-model';

/** Percent-encodes like encodeURIComponent, but lone surrogates become U+FFFD instead of throwing. */
export function enc(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** Strings that break naive code: NUL, lone surrogates, RTL override, zero-width, emoji, injections. */
export const ODD_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  '\u202eevil\u202c',
  '\u200b\u200d\ufeff',
  '😀🇫🇷👩‍👩‍👧',
  'e\u0301\u0301\u0301',
  '\uffff\ufffe',
  'İstanbul ß ǅ',
  '𝕏𝔸',
  'line\u2028sep\u2029',
  "'; DROP TABLE product; --",
  '%00%27',
  '../../etc/passwd',
  '${7*7}{{7*7}}',
  '<script>alert(1)</script>',
  ' ',
  '',
];

export const odd = fc.constantFrom(...ODD_STRINGS);

function types(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) {
    return schema.type;
  }
  if (schema.type) {
    return [schema.type];
  }
  if (schema.properties) {
    return ['object'];
  }
  return [];
}

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 1e9;
  const fits = (s: string) => [...s].length >= min && [...s].length <= max;
  if (schema.format === 'email') {
    const pattern = schema.pattern === undefined ? undefined : new RegExp(schema.pattern, 'u');
    return fc.emailAddress().filter((s) => fits(s) && (pattern === undefined || pattern.test(s)));
  }
  if (schema.pattern !== undefined && schema.format !== 'date-time') {
    try {
      // Strings the pattern accepts, within the bounds (fast-check builds them from the regular expression).
      return fc.stringMatching(new RegExp(schema.pattern, 'u'), { size: 'small' }).filter(fits);
    } catch {
      // fast-check cannot build from every regular expression (look-aheads): any string, judged by ajv later.
    }
  }
  if (schema.pattern === '^-?\\d+(\\.\\d+)?$') {
    return fc.oneof(
      fc.integer({ min: 0, max: 99999 }).map((cents) => (cents / 100).toFixed(2)),
      fc.constantFrom('0', '0.00', '-1.00', '99999999.99', '1.005'),
    );
  }
  if (schema.format === 'date-time') {
    return fc
      .date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, Math.max(min, 24)) }) },
    { weight: 1, arbitrary: odd.filter((s) => s.length >= min && s.length <= max) },
  );
}

/** Schema-valid values (as far as a generator without a full solver gets). */
export function valueOf(
  document: OpenApiDocument,
  raw: JsonSchema | undefined,
  depth = 0,
): fc.Arbitrary<unknown> {
  const schema = resolve(document, raw);
  if (schema.const !== undefined) {
    return fc.constant(schema.const);
  }
  if (schema.enum) {
    return fc.constantFrom(...schema.enum);
  }
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) {
    return fc.oneof(...branches.map((b) => valueOf(document, b, depth + 1)));
  }
  const kinds = types(schema);
  if (kinds.length === 0) {
    return depth > 2 ? fc.constant(null) : fc.jsonValue({ maxDepth: 2 });
  }
  return fc.oneof(
    ...kinds.map((kind): fc.Arbitrary<unknown> => {
      switch (kind) {
        case 'string':
          return stringOf(schema);
        case 'integer':
        case 'number': {
          const min =
            schema.minimum ?? (typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : 0);
          const max =
            schema.maximum ??
            (typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - 1 : 1000);
          // Mostly small values (rows the fixtures made), sometimes the edges of the range.
          return fc.oneof(
            {
              weight: 4,
              arbitrary: fc.integer({
                min: Math.max(min, 0),
                max: Math.max(Math.min(max, 1000), Math.max(min, 0)),
              }),
            },
            { weight: 1, arbitrary: fc.constantFrom(min, max) },
          );
        }
        case 'boolean':
          return fc.boolean();
        case 'null':
          return fc.constant(null);
        case 'array': {
          if (depth > 3) {
            return fc.constant([]);
          }
          const item = valueOf(document, schema.items, depth + 1);
          const constraints = {
            minLength: schema.minItems ?? 0,
            maxLength: Math.min(schema.maxItems ?? 4, 4),
          };
          return schema.uniqueItems
            ? fc.uniqueArray(item, { ...constraints, selector: (v) => JSON.stringify(v) })
            : fc.array(item, constraints);
        }
        case 'object':
          return objectOf(document, schema, depth);
        default:
          return fc.constant(null);
      }
    }),
  );
}

function objectOf(document: OpenApiDocument, schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (depth > 3) {
    return fc.constant({});
  }
  const entries = Object.entries(schema.properties ?? {}).filter(([, p]) => !resolve(document, p).readOnly);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of entries) {
    model[name] = valueOf(document, property, depth + 1);
  }
  const required = (schema.required ?? []).filter((name) => name in model);
  return fc.record(model, { requiredKeys: required });
}

/** A value of another JSON type than the schema allows (or might allow: ajv decides later). */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, '', 'abc', '1', [], [1, 'a'], {}, { a: 1 }, 1e308, -0),
  fc.string(),
  fc.integer(),
);

/** Values at and past the edges of a schema: maxLength(+1), minimum-1, int32/int53 overflow, … */
export function boundaryOf(document: OpenApiDocument, raw: JsonSchema | undefined): fc.Arbitrary<unknown> {
  const schema = resolve(document, raw);
  const kinds = types(schema);
  const values: unknown[] = [];
  if (kinds.includes('string') || kinds.length === 0) {
    const max = schema.maxLength ?? 255;
    values.push(
      'a'.repeat(max),
      'a'.repeat(max + 1),
      '😀'.repeat(max),
      '😀'.repeat(max + 1),
      'x'.repeat(10_000),
    );
    if (schema.minLength) {
      values.push('a'.repeat(schema.minLength - 1));
    }
    values.push('', ' ', '0', '-0', 'NaN', 'Infinity', '1e309', '99999999999999999999.999', '-1.00', '1.005');
  }
  if (kinds.includes('integer') || kinds.includes('number') || kinds.length === 0) {
    values.push(0, -1, 1.5, 2147483647, 2147483648, -2147483649, Number.MAX_SAFE_INTEGER + 2, 1e308, -1e308);
    if (schema.minimum !== undefined) {
      values.push(schema.minimum - 1, schema.minimum);
    }
    if (schema.maximum !== undefined) {
      values.push(schema.maximum, schema.maximum + 1);
    }
  }
  if (kinds.includes('array')) {
    values.push(
      [],
      Array.from({ length: (schema.maxItems ?? 100) + 1 }, (_, i) => i + 1),
      [1, 1],
    );
  }
  if (kinds.includes('boolean')) {
    values.push(true, false);
  }
  if (kinds.includes('object')) {
    values.push({}, { '': null });
  }
  // Every schema has edges worth sending; null is one for any type.
  values.push(null);
  return fc.constantFrom(...values);
}

/** `depth` levels of nested arrays or objects, as raw JSON text (JSON.stringify would recurse). */
export function deepJson(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Query strings the list language must refuse with 400 (`invalid: true`) or may accept. */
export const MALFORMED_QUERIES: { query: string; invalid: boolean }[] = [
  { query: 'filter[price][gte]=abc', invalid: true },
  { query: 'filter[stock][gt]=1.5', invalid: true },
  { query: 'filter[stock]=99999999999', invalid: true },
  { query: 'filter[id]=2147483648', invalid: true },
  { query: 'filter[createdAt][gt]=not-a-date', invalid: true },
  { query: 'filter[createdAt][gt]=2024-13-45T99:99:99Z', invalid: true },
  { query: 'filter[id][in]=1,,x', invalid: true },
  { query: 'filter[price][between]=1', invalid: true },
  { query: 'filter[nope]=1', invalid: true },
  { query: 'filter[name][regex]=x', invalid: true },
  { query: 'filter[a][b][c][d]=x', invalid: true },
  { query: 'filter=abc', invalid: true },
  { query: 'filter[]=x', invalid: true },
  { query: 'filter[name][]=a&filter[name][]=b', invalid: true },
  { query: 'filter[status]=bogus', invalid: true },
  { query: 'filter[__proto__][x]=1', invalid: true },
  { query: 'constructor[prototype][x]=1', invalid: true },
  { query: 'sort=-nope', invalid: true },
  { query: 'sort=--name', invalid: true },
  { query: 'sort=,,,', invalid: true },
  { query: 'limit=-1', invalid: true },
  { query: 'limit=0', invalid: true },
  { query: 'limit=abc', invalid: true },
  { query: 'limit=1e3', invalid: true },
  { query: 'limit=99999999999999999999', invalid: false },
  { query: 'page=0', invalid: true },
  { query: 'page=1e309', invalid: true },
  { query: 'page=-1', invalid: true },
  { query: 'page=1.5', invalid: true },
  { query: 'page=99999999999999999999', invalid: true },
  { query: 'page=1&page=2', invalid: true },
  { query: 'limit=5&limit=6', invalid: true },
  { query: 'after=garbage', invalid: true },
  { query: 'after=eyJ2IjpbIngiXX0', invalid: true },
  { query: 'after=%00', invalid: true },
  { query: 'fields=nope', invalid: true },
  { query: 'include=nope', invalid: true },
  { query: 'include=a.b.c.d', invalid: true },
  { query: 'trashed=maybe', invalid: true },
  { query: 'unknownParam=1', invalid: true },
  { query: '%E0%A4%A', invalid: true },
  { query: 'a[=1', invalid: true },
  { query: '[]=1', invalid: true },
  { query: 'limit=101', invalid: false },
  { query: 'q=%00', invalid: false },
  { query: 'q=%F0%9F%98%80%E2%80%AE', invalid: false },
  { query: 'q=%25%5F%5C', invalid: false },
  { query: 'filter[name][contains]=%25_%5C', invalid: false },
  { query: 'filter[name]=%00', invalid: false },
  { query: 'filter[name][startswith]=%ED%A0%80', invalid: false },
  { query: `q=${'x'.repeat(201)}`, invalid: true },
  { query: 'sort=', invalid: false },
  { query: 'fields=', invalid: false },
];

/** Path segments that are not ids: the route must answer 400 or 404. */
export const BAD_IDS = [
  '0',
  '-1',
  '2147483648',
  '99999999999999999999999999',
  'abc',
  '1.5',
  '1e2',
  '%00',
  '%20 1',
  '0x10',
  'null',
  '%F0%9F%98%80',
  '..%2F..%2Fetc',
];

/** The kind of mutation a request carries; `valid` ones go through as the schema describes them. */
export type Strategy =
  | 'valid'
  | 'wrong-type'
  | 'missing-required'
  | 'extra-field'
  | 'boundary'
  | 'odd-unicode'
  | 'huge'
  | 'deep-nesting'
  | 'malformed-json'
  | 'wrong-content-type'
  | 'not-an-object'
  | 'malformed-query'
  | 'bad-path';

export interface FuzzRequest {
  strategy: Strategy;
  /** Must be refused (never 2xx) whoever sends it. */
  invalid: boolean;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** The parsed body, when it is JSON: ajv tells whether the schema allows it. */
  body?: unknown;
  hasBody: boolean;
}

export interface FuzzContext {
  document: OpenApiDocument;
  /** Values for path parameters that exist, by parameter name and path (e.g. ids of seeded rows). */
  pathValues: (operation: Operation, parameter: string) => string[];
  bodyLimit: number;
}

function mutateBody(
  context: FuzzContext,
  operation: Operation,
): fc.Arbitrary<{
  strategy: Strategy;
  body?: unknown;
  payload?: string;
  contentType?: string;
  raw?: boolean;
}> {
  const { document } = context;
  const schema = resolve(document, operation.body);
  const valid = operation.body ? valueOf(document, operation.body) : fc.constant(undefined);
  const properties = Object.keys(schema.properties ?? {});
  const property = properties.length ? fc.constantFrom(...properties) : fc.constant('name');
  const asObject = (v: unknown): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {};
  const schemaOf = (name: string) => schema.properties?.[name];
  const arbitraries = [
    { weight: 6, arbitrary: valid.map((body) => ({ strategy: 'valid' as const, body })) },
    {
      weight: 3,
      arbitrary: fc.tuple(valid, property, wrongType).map(([body, name, value]) => ({
        strategy: 'wrong-type' as const,
        body: { ...asObject(body), [name]: value },
      })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...(schema.required?.length ? schema.required : ['x'])))
        .map(([body, name]) => {
          const copy = asObject(body);
          delete copy[name];
          return { strategy: 'missing-required' as const, body: copy };
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          valid,
          fc.constantFrom(
            'isSuperuser',
            'isStaff',
            'id',
            'createdAt',
            'version',
            '__proto__',
            'constructor',
            'zz',
          ),
          fc.jsonValue({ maxDepth: 1 }),
        )
        .map(([body, name, value]) => {
          const copy = asObject(body);
          Object.defineProperty(copy, name, { value, enumerable: true, writable: true, configurable: true });
          return { strategy: 'extra-field' as const, body: copy };
        }),
    },
    {
      weight: 3,
      arbitrary: property.chain((name) =>
        fc.tuple(valid, boundaryOf(document, schemaOf(name))).map(([body, value]) => ({
          strategy: 'boundary' as const,
          body: { ...asObject(body), [name]: value },
        })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(valid, property, odd).map(([body, name, value]) => ({
        strategy: 'odd-unicode' as const,
        body: { ...asObject(body), [name]: value },
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, property, fc.constantFrom('over', 'array', 'under'))
        .map(([body, name, kind]) => {
          const copy = asObject(body);
          if (kind === 'over') {
            copy[name] = 'x'.repeat(context.bodyLimit + 1024);
          } else if (kind === 'array') {
            copy[name] = Array.from({ length: 100_000 }, (_, i) => i);
          } else {
            copy[name] = 'y'.repeat(context.bodyLimit - 4096);
          }
          return { strategy: 'huge' as const, body: copy };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(1_000, 10_000), fc.constantFrom('array' as const, 'object' as const))
        .map(([depth, kind]) => ({
          strategy: 'deep-nesting' as const,
          payload: deepJson(depth, kind),
          raw: true,
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '{bad',
          '{"a":1,}',
          "{'a':1}",
          '',
          ' ',
          '{"a":"\\ud800"',
          '\u0000',
          '{"a":1}{"b":2}',
          'NaN',
          '{"a":01}',
        )
        .map((payload) => ({ strategy: 'malformed-json' as const, payload, raw: true })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          valid,
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'application/xml',
            'multipart/form-data; boundary=x',
            'application/jsonx',
          ),
        )
        .map(([body, contentType]) => ({
          strategy: 'wrong-content-type' as const,
          payload: JSON.stringify(body ?? {}),
          contentType,
          raw: true,
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<unknown>(null, [], [{}], 'x', 0, true, [1, 2, 3])
        .map((body) => ({ strategy: 'not-an-object' as const, body })),
    },
  ];
  return fc.oneof(...arbitraries);
}

function queryOf(context: FuzzContext, operation: Operation): fc.Arbitrary<string> {
  const parts = operation.queryParams.map((parameter) => {
    const schema = resolve(context.document, parameter.schema);
    if (parameter.style === 'deepObject' && schema.properties) {
      const fields = Object.entries(schema.properties).map(([field, fieldSchema]) =>
        valueOf(context.document, fieldSchema).map((value) => {
          if (value !== null && typeof value === 'object') {
            return Object.entries(value as Record<string, unknown>)
              .map(([op, v]) => `${parameter.name}[${field}][${op}]=${enc(String(v))}`)
              .join('&');
          }
          return `${parameter.name}[${field}]=${enc(String(value))}`;
        }),
      );
      return fc.option(fc.oneof(...fields), { nil: '', freq: 2 });
    }
    return fc.option(
      valueOf(context.document, schema).map((v) => `${parameter.name}=${enc(String(v))}`),
      { nil: '', freq: 2 },
    );
  });
  return (parts.length ? fc.tuple(...parts) : fc.constant([] as string[])).map((list) =>
    list.filter(Boolean).join('&'),
  );
}

/** One arbitrary request for an operation, mixing every strategy with fixed weights. */
export function requestOf(context: FuzzContext, operation: Operation): fc.Arbitrary<FuzzRequest> {
  const pathArb = fc.tuple(
    ...operation.pathParams.map((parameter) => {
      const known = context.pathValues(operation, parameter.name);
      return fc.oneof(
        { weight: 8, arbitrary: known.length ? fc.constantFrom(...known) : fc.constant('1') },
        { weight: 1, arbitrary: fc.constantFrom(...BAD_IDS).map((id) => `!${id}`) },
      );
    }),
  );
  const queryArb = fc.oneof(
    { weight: 5, arbitrary: queryOf(context, operation).map((query) => ({ query, malformed: undefined })) },
    {
      weight: operation.queryParams.length ? 2 : 0,
      arbitrary: fc.constantFrom(...MALFORMED_QUERIES).map((m) => ({ query: m.query, malformed: m })),
    },
  );
  const takesBody = ['POST', 'PATCH', 'PUT'].includes(operation.method);
  const bodyArb = takesBody
    ? mutateBody(context, operation)
    : fc.constant({ strategy: 'valid', body: undefined, raw: false });
  const ifMatch = operation.headerParams.some((h) => h.name === 'If-Match')
    ? fc.option(fc.constantFrom('"nope"', '*', 'W/"1"', '', '\u00ff'), { nil: undefined, freq: 4 })
    : fc.constant(undefined);
  return fc.tuple(pathArb, queryArb, bodyArb, ifMatch).map(([segments, query, body, etag]) => {
    let url = operation.path;
    let badPath = false;
    operation.pathParams.forEach((parameter, i) => {
      let value = segments[i];
      if (value.startsWith('!')) {
        badPath = true;
        value = value.slice(1);
      }
      url = url.replace(`{${parameter.name}}`, value);
    });
    if (query.query) {
      url += `?${query.query}`;
    }
    const headers: Record<string, string> = {};
    if (etag !== undefined) {
      headers['if-match'] = etag;
    }
    const b = body as {
      strategy: Strategy;
      body?: unknown;
      payload?: string;
      contentType?: string;
      raw?: boolean;
    };
    let payload: string | undefined;
    if (b.raw) {
      payload = b.payload;
    } else if (b.body !== undefined) {
      payload = JSON.stringify(b.body);
    }
    if (payload !== undefined) {
      headers['content-type'] = b.contentType ?? 'application/json';
    }
    const strategy: Strategy = query.malformed
      ? 'malformed-query'
      : badPath && b.strategy === 'valid'
        ? 'bad-path'
        : b.strategy;
    // Invalid by construction; body validity is settled later with ajv against the documented schema.
    const invalid =
      (query.malformed?.invalid === true && operation.resource) ||
      (badPath && operation.resource) ||
      b.strategy === 'malformed-json' ||
      (b.strategy === 'wrong-content-type' && operation.body !== undefined) ||
      (b.strategy === 'deep-nesting' && operation.body !== undefined) ||
      (b.strategy === 'huge' && (payload?.length ?? 0) > context.bodyLimit);
    return {
      strategy,
      invalid,
      url,
      headers,
      payload,
      body: b.raw ? undefined : b.body,
      hasBody: payload !== undefined,
    };
  });
}
