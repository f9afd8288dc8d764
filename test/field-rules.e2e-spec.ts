import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { getMetadataStorage } from 'class-validator';
import { AppModule } from 'src/app.module';
import { AdminSchemaService } from 'src/framework/admin/admin-schema.service';
import type { AdminField } from 'src/framework/admin/admin-schema.types';
import { buildOpenApiDocument } from 'src/framework/openapi/openapi';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { TestApp, createTestApp } from 'src/framework/testing';

/**
 * One description per field (issue 17): every class-validator rule and column limit on a shop entity reaches
 * OpenAPI and the admin schema, and at every boundary those rules draw the server answers exactly as the
 * document says (ajv, the validator generated clients and fuzzers use, decides what the document allows).
 */

type Schema = Record<string, unknown> & {
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  type?: string | string[];
  example?: unknown;
};

/** The keyword each class-validator rule must leave in OpenAPI (and its admin counterpart); type-only rules none. */
const RULE_KEYWORDS: Record<string, { openapi: string[]; admin: (keyof AdminField)[] }> = {
  min: { openapi: ['minimum'], admin: ['min'] },
  max: { openapi: ['maximum'], admin: ['max'] },
  minLength: { openapi: ['minLength'], admin: ['minLength'] },
  maxLength: { openapi: ['maxLength'], admin: ['maxLength'] },
  isLength: { openapi: ['minLength', 'maxLength'], admin: ['minLength', 'maxLength'] },
  matches: { openapi: ['pattern'], admin: ['pattern', 'patternMessage'] },
  isSlug: { openapi: ['pattern'], admin: ['pattern', 'patternMessage'] },
  decimalMin: { openapi: ['pattern'], admin: ['min', 'pattern'] },
  isEmail: { openapi: ['format', 'pattern'], admin: ['pattern'] },
  isEnum: { openapi: ['enum'], admin: ['enum'] },
  isIn: { openapi: ['enum'], admin: ['enum'] },
};
const TYPE_ONLY = new Set(['isString', 'isInt', 'isBoolean', 'isOptional', 'isNumber']);

/** Every keyword of a property schema, the `anyOf` branches and the array items included. */
function keywords(schema: Schema): Set<string> {
  const found = new Set(Object.keys(schema));
  for (const branch of [...(schema.anyOf ?? []), ...(schema.items ? [schema.items as Schema] : [])]) {
    keywords(branch).forEach((k) => found.add(k));
  }
  return found;
}

/** The string type's branch of a property (decimals also take numbers). */
function stringBranch(schema: Schema): Schema | undefined {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.includes('string') ? schema : schema.anyOf?.find((b) => stringBranch(b));
}

/** `text` padded or cut to `length` characters with its own last character, so a pattern still holds. */
function sized(text: string, length: number): string {
  return length <= text.length ? text.slice(0, length) : text.padEnd(length, text.slice(-1));
}

/** The values at and just past every boundary the property's schema draws, for the document to judge. */
function boundaryValues(schema: Schema): unknown[] {
  const values: unknown[] = [null, 'not valid at all !', -1, 0, 1.5];
  const text = stringBranch(schema);
  const example = schema.example ?? text?.example;
  if (typeof example === 'string') {
    values.push(example, `${example}!`, `!${example}`, example.toUpperCase(), example.toLowerCase(), '');
  } else if (example !== undefined) {
    values.push(example);
  }
  const seed = typeof example === 'string' && example !== '' ? example : 'abcd';
  for (const key of ['minLength', 'maxLength'] as const) {
    const n = (text ?? schema)[key];
    if (typeof n === 'number') {
      values.push(...[n - 1, n, n + 1].filter((l) => l >= 0).map((l) => sized(seed, l)));
    }
  }
  for (const branch of [schema, ...(schema.anyOf ?? [])]) {
    for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const) {
      const n = branch[key];
      if (typeof n === 'number') {
        values.push(n - 1, n, n + 1, String(n - 1), String(n));
      }
    }
  }
  for (const value of (schema.enum ?? text?.enum ?? []) as unknown[]) {
    values.push(value, `${String(value)}x`);
  }
  if (text?.format === 'decimal') {
    values.push('-1.00', '0', '0.00', '1.005', '99999999.99', '100000000.00', '12.5', 12.5, '1e3', '.5');
  }
  if (text?.format === 'email') {
    values.push('ada@example.com', 'ada@', 'ada example.com');
  }
  return values;
}

describe('Field rules: one description for OpenAPI, the admin and the server', () => {
  let t: TestApp;
  let document: ReturnType<typeof buildOpenApiDocument>;
  let schemas: Record<string, Schema>;
  let admin: ReturnType<AdminSchemaService['schemaFor']>;
  const ajv = new Ajv2020({ strict: false, allErrors: true, multipleOfPrecision: 9 });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-nestor-rules' });

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    document = JSON.parse(JSON.stringify(buildOpenApiDocument(t.app))) as typeof document;
    schemas = document.components!.schemas as Record<string, Schema>;
    admin = t.app.get(AdminSchemaService).schemaFor({
      userId: t.superuser!.id,
      email: t.superuser!.email,
      isStaff: true,
      isSuperuser: true,
      permissions: new Set(),
      via: 'jwt',
    });
  });
  afterAll(() => t.close());

  it('puts every class-validator rule of every resource field into OpenAPI and the admin schema', () => {
    let checked = 0;
    for (const definition of t.app.get(ResourceRegistry).all()) {
      const rules = getMetadataStorage().getTargetValidationMetadatas(
        definition.metadata.target as new () => object,
        '',
        true,
        false,
      );
      const adminResource = admin.resources.find((r) => r.path === definition.path)!;
      for (const rule of rules) {
        const field = definition.fields.get(rule.propertyName);
        if (!field || (!field.readable && !field.writable) || TYPE_ONLY.has(rule.name ?? '')) {
          continue;
        }
        const expected = RULE_KEYWORDS[rule.name ?? ''];
        expect({ rule: `${definition.name}.${rule.propertyName} @${rule.name}`, mapped: !!expected }).toEqual(
          {
            rule: `${definition.name}.${rule.propertyName} @${rule.name}`,
            mapped: true,
          },
        );
        const body = schemas[`${definition.name}Create`] ?? schemas[`${definition.name}Update`];
        const schema = (field.writable && body ? body : schemas[definition.name]).properties![field.name];
        expect([...keywords(schema)]).toEqual(expect.arrayContaining(expected.openapi));
        const adminField = adminResource.fields.find((f) => f.name === field.name)!;
        for (const key of expected.admin) {
          expect({ field: `${definition.path}.${field.name}`, [key]: adminField[key] }).not.toEqual({
            field: `${definition.path}.${field.name}`,
            [key]: null,
          });
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('states the column limits too: varchar length, numeric digits, integer range, enum', () => {
    const product = schemas.ProductCreate.properties!;
    expect(product.name).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(stringBranch(product.price)).toMatchObject({ pattern: '^\\d{1,8}(\\.\\d{1,2})?$', maxLength: 11 });
    expect(product.stock).toMatchObject({
      type: 'integer',
      format: 'int32',
      minimum: 0,
      maximum: 2147483647,
    });
    expect(product.status).toMatchObject({ enum: ['draft', 'active', 'archived'], default: 'draft' });
    const price = admin.resources.find((r) => r.path === 'products')!.fields.find((f) => f.name === 'price');
    expect(price).toMatchObject({
      min: 0,
      pattern: '^\\d{1,8}(\\.\\d{1,2})?$',
      patternMessage: expect.any(String),
    });
  });

  /** A body of the resource every rule accepts, unique where the table needs it. */
  let sequence = 0;
  async function baseBody(path: string): Promise<Record<string, unknown>> {
    const n = ++sequence;
    switch (path) {
      case 'categories':
        return { name: `Category ${n}`, slug: `category-${n}` };
      case 'tags':
        return { name: `tag-${n}` };
      case 'products': {
        const category = await t.inject({
          method: 'POST',
          url: '/api/categories',
          payload: { name: `For products ${n}`, slug: `for-products-${n}` },
        });
        return {
          name: `Product ${n}`,
          sku: `SKU-${n}`,
          price: '1.00',
          categoryId: category.json<{ id: number }>().id,
        };
      }
      case 'groups':
        return { name: `Group ${n}` };
      case 'users':
        return { email: `user${n}@example.com` };
      default:
        throw new Error(`no base body for ${path}`);
    }
  }

  it.each(['products', 'categories', 'tags', 'groups', 'users'])(
    '%s: the server refuses exactly the bodies the document forbids, field by field, at every boundary',
    async (path) => {
      const definition = t.app
        .get(ResourceRegistry)
        .all()
        .find((d) => d.path === path)!;
      const create = schemas[`${definition.name}Create`];
      const validate = ajv.compile({ ...create, components: document.components, $id: `${path}.json` });
      const disagreements: string[] = [];
      let cases = 0;
      for (const [name, property] of Object.entries(create.properties!)) {
        if (definition.fields.get(name)?.kind !== 'column') {
          continue; // ids of related rows: the database decides whether they exist
        }
        for (const value of boundaryValues(property)) {
          const body = { ...(await baseBody(path)), [name]: value };
          const documented = validate(body);
          const res = await t.inject({ method: 'POST', url: `/api/${path}`, payload: body });
          // A value the rules accept may still collide with a row the table holds: that is the database's
          // answer (409 unique), not the document's.
          const refused = res.statusCode === 422;
          const accepted =
            res.statusCode === 201 || (res.statusCode === 409 && res.body.includes('"unique"'));
          const blamed =
            refused &&
            res.json<{ errors: { pointer: string }[] }>().errors.some((e) => e.pointer === `/${name}`);
          if (documented !== accepted || (!documented && !blamed)) {
            disagreements.push(
              `${name}=${JSON.stringify(value)}: document ${documented ? 'allows' : 'forbids'}, server ${res.statusCode} ${res.body.slice(0, 200)}`,
            );
          }
          cases++;
        }
      }
      expect(disagreements).toEqual([]);
      expect(cases).toBeGreaterThan(10);
    },
  );
});
