import type { EntityRef, FieldDef } from 'src/framework/cli/generate/field-spec';
import {
  ResourceNames,
  camelCase,
  pascalCase,
  singular,
  snakeCase,
  words,
} from 'src/framework/cli/generate/names';

/**
 * The files of `nestor generate resource`, as template literals. Prettier formats them afterwards, so the
 * templates favour readability over exact layout; literals are JSON (Prettier turns them into single quotes).
 */

/** Everything a template needs to know about one field. */
interface FieldModel {
  def: FieldDef;
  /** The name in JSON bodies: `price`, `categoryId`, `tagIds`. */
  apiName: string;
  /** Decorators and property declaration(s) of the entity. */
  members: string;
  typeorm: string[];
  validators: string[];
  swagger: boolean;
  /** `export enum …` for enum fields. */
  enumDeclaration?: string;
  enumName?: string;
  /** For relations: the target entity (undefined for a self reference). */
  target?: EntityRef;
  /** Scalars only: a valid value (JS), how the unit spec spells it, a changed value, and a rejected one. */
  sample?: unknown;
  sampleCode?: string;
  changed?: unknown;
  invalid?: unknown;
  filter: boolean;
  sort: boolean;
  search: boolean;
  list: boolean;
}

export interface ResourceModel {
  names: ResourceNames;
  fields: FieldModel[];
  softDelete: boolean;
  folder: string;
  moduleName: string;
}

const lit = (value: unknown): string => JSON.stringify(value);

function columnOptions(def: FieldDef, options: Record<string, string>): string {
  const all = { ...options };
  if (def.unique) {
    all.unique = 'true';
  }
  if (def.optional) {
    all.nullable = 'true';
    delete all.default;
  }
  return `{ ${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;
}

/** A decimal string with `scale` places that fits `precision`: `12.50` for (10,2). */
function decimalSample(precision: number, scale: number, whole: string, fraction: string): string {
  const digits = precision - scale;
  const integer = whole.slice(0, digits) || '0';
  return scale > 0 ? `${integer}.${(fraction + '0'.repeat(scale)).slice(0, scale)}` : integer;
}

function scalarModel(def: FieldDef, names: ResourceNames): FieldModel {
  const { name, optional } = def;
  const tsNull = optional ? ' | null' : '';
  const label = words(name).join(' ');
  const model: FieldModel = {
    def,
    apiName: name,
    members: '',
    typeorm: ['Column'],
    validators: optional ? ['IsOptional'] : [],
    swagger: true,
    filter: true,
    sort: true,
    search: false,
    list: true,
  };
  const member = (
    column: Record<string, string>,
    rules: string[],
    tsType: string,
    comment = '',
    index = false,
  ): string => {
    const example = model.sample === undefined ? '' : `@ApiProperty({ example: ${lit(model.sample)} })\n`;
    return `${comment}${example}${index ? '@Index()\n' : ''}@Column(${columnOptions(def, column)})
      ${optional ? '@IsOptional()\n' : ''}${rules.join('\n')}
      ${name}!: ${tsType}${tsNull};`;
  };
  switch (def.type) {
    case 'string': {
      const length = def.length!;
      model.sample = `Example ${label}`.slice(0, length);
      model.changed = 'Changed'.slice(0, length);
      model.invalid = 42;
      model.search = true;
      const rules = optional
        ? ['@IsString()', `@MaxLength(${length})`]
        : ['@IsString()', `@Length(1, ${length})`];
      model.validators.push('IsString', optional ? 'MaxLength' : 'Length');
      model.members = member({ type: lit('varchar'), length: String(length) }, rules, 'string');
      break;
    }
    case 'text':
      model.sample = `Some ${label}`;
      model.changed = `Other ${label}`;
      model.invalid = 42;
      model.search = true;
      model.filter = model.sort = model.list = false;
      model.validators.push('IsString');
      model.members = member({ type: lit('text') }, ['@IsString()'], 'string');
      break;
    case 'int':
      model.sample = 3;
      model.changed = 4;
      model.invalid = 1.5;
      model.validators.push('IsInt');
      model.members = member({ type: lit('int') }, ['@IsInt()'], 'number');
      break;
    case 'decimal': {
      const precision = def.precision!;
      const scale = def.scale!;
      const digits = precision - scale;
      model.sample = decimalSample(precision, scale, '12', '5');
      model.changed = decimalSample(precision, scale, '99', '25');
      model.invalid = `1.${'1'.repeat(scale + 1)}`;
      model.validators.push('Matches');
      const pattern = scale > 0 ? `/^-?\\d{1,${digits}}(\\.\\d{1,${scale}})?$/` : `/^-?\\d{1,${digits}}$/`;
      const message = `${name} must be a decimal with at most ${digits} digits before and ${scale} after the point, e.g. "${String(model.sample)}"`;
      model.members = member(
        { type: lit('numeric'), precision: String(precision), scale: String(scale) },
        [`@Matches(${pattern}, { message: ${lit(message)} })`],
        'string',
        `// A decimal string (${lit(model.sample)}); numbers are accepted on input and stored exactly.\n`,
      );
      break;
    }
    case 'float':
      model.sample = 1.5;
      model.changed = 2.5;
      model.invalid = 'many';
      model.validators.push('IsNumber');
      model.members = member({ type: lit('double precision') }, ['@IsNumber()'], 'number');
      break;
    case 'bool':
      model.sample = true;
      model.changed = false;
      model.invalid = 'yes';
      model.validators.push('IsBoolean');
      model.members = member({ type: lit('boolean'), default: 'false' }, ['@IsBoolean()'], 'boolean');
      break;
    case 'date':
      model.sample = '2024-05-01';
      model.changed = '2024-06-01';
      model.invalid = '01/05/2024';
      model.validators.push('Matches');
      model.members = member(
        { type: lit('date') },
        [
          `@Matches(/^\\d{4}-\\d{2}-\\d{2}$/, { message: ${lit(`${name} must be a date like "2024-05-01"`)} })`,
        ],
        'string',
        '// A calendar day, `YYYY-MM-DD`.\n',
      );
      break;
    case 'datetime':
      model.sample = '2024-05-01T12:00:00.000Z';
      model.changed = '2024-06-01T08:30:00.000Z';
      model.sampleCode = `new Date(${lit(model.sample)})`;
      model.invalid = 'soon';
      model.validators.push('IsDate');
      model.members = member({ type: lit('timestamptz') }, ['@IsDate()'], 'Date');
      break;
    case 'json':
      model.sample = { key: 'value' };
      model.changed = { key: 'changed' };
      model.invalid = 'text';
      model.filter = model.sort = model.list = false;
      model.validators.push('IsObject');
      model.members = member(
        { type: lit('jsonb') },
        ['@IsObject()'],
        'Record<string, unknown>',
        '// A JSON object.\n',
      );
      break;
    case 'uuid':
      model.sample = '0f8fad5b-d9cb-469f-a165-70867728950e';
      model.changed = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
      model.invalid = 'not-a-uuid';
      model.sort = false;
      model.validators.push('IsUUID');
      model.members = member({ type: lit('uuid') }, ['@IsUUID()'], 'string');
      break;
    case 'enum': {
      const values = def.enumValues!;
      const enumName = `${names.entity}${pascalCase(name)}`;
      const member0 = `${enumName}.${pascalCase(values[0])}`;
      const last = values[values.length - 1];
      model.enumName = enumName;
      model.enumDeclaration = `export enum ${enumName} {\n${values.map((v) => `  ${pascalCase(v)} = ${lit(v)},`).join('\n')}\n}`;
      model.sample = last;
      model.sampleCode = `${enumName}.${pascalCase(last)}`;
      model.changed = values[0];
      model.invalid = 'not-a-choice';
      model.validators.push('IsEnum');
      model.members = member(
        {
          type: lit('enum'),
          enum: enumName,
          enumName: lit(`${names.table}_${snakeCase(name)}`),
          default: member0,
        },
        [`@IsEnum(${enumName})`],
        enumName,
      );
      break;
    }
    default:
      throw new Error(`not a scalar type: ${def.type}`);
  }
  return model;
}

function relationModel(def: FieldDef, names: ResourceNames, target: EntityRef | undefined): FieldModel {
  const { name, optional } = def;
  const targetName = def.target!;
  const idTs = (target?.idType ?? 'int') === 'uuid' ? 'string' : 'number';
  const idColumn = (target?.idType ?? 'int') === 'uuid' ? lit('uuid') : lit('int');
  const base = {
    def,
    target,
    typeorm: [] as string[],
    validators: [],
    swagger: false,
    sort: false,
    search: false,
  };
  if (def.type === 'belongsTo') {
    const nullable = optional ? ' | null' : '';
    return {
      ...base,
      apiName: `${name}Id`,
      typeorm: ['ManyToOne', 'JoinColumn', 'Index', 'Column'],
      filter: true,
      list: true,
      members: `@ManyToOne(() => ${targetName}, { nullable: ${optional}, onDelete: ${lit(optional ? 'SET NULL' : 'RESTRICT')} })
        @JoinColumn({ name: ${lit(`${name}Id`)} })
        ${name}!: ${targetName}${nullable};

        @Index()
        @Column({ type: ${idColumn}${optional ? ', nullable: true' : ''} })
        ${name}Id!: ${idTs}${nullable};`,
    };
  }
  const own = `${names.variable}Id`;
  let inverse = `${camelCase(targetName)}Id`;
  if (inverse === own) {
    inverse = `${singular(name)}Id` === own ? `related${targetName}Id` : `${singular(name)}Id`;
  }
  return {
    ...base,
    apiName: `${singular(name)}Ids`,
    typeorm: ['ManyToMany', 'JoinTable'],
    filter: false,
    list: false,
    members: `@ManyToMany(() => ${targetName})
      @JoinTable({
        name: ${lit(`${names.table}_${snakeCase(name)}`)},
        joinColumn: { name: ${lit(own)} },
        inverseJoinColumn: { name: ${lit(inverse)} },
      })
      ${name}!: ${targetName}[];`,
  };
}

export function resourceModel(
  names: ResourceNames,
  defs: FieldDef[],
  entities: ReadonlyMap<string, EntityRef>,
  softDelete: boolean,
): ResourceModel {
  const fields = defs.map((def) =>
    def.type === 'belongsTo' || def.type === 'manyToMany'
      ? relationModel(def, names, def.target === names.entity ? undefined : entities.get(def.target!))
      : scalarModel(def, names),
  );
  return {
    names,
    fields,
    softDelete,
    folder: resourceFiles(names).folder,
    moduleName: `${names.pluralPascal}Module`,
  };
}

/** Where `generate resource` writes, like the shop: `src/app/coupons/coupon.entity.ts`, `test/coupons.e2e-spec.ts`… */
export function resourceFiles(names: ResourceNames) {
  const folder = `src/app/${names.plural}`;
  const base = `${folder}/${names.file}`;
  return {
    folder,
    entity: `${base}.entity.ts`,
    resource: `${base}.resource.ts`,
    module: `${folder}/${names.plural}.module.ts`,
    unitSpec: `${base}.resource.spec.ts`,
    e2eSpec: `test/${names.plural}.e2e-spec.ts`,
  };
}

const sortedUnique = (items: string[]): string[] => [...new Set(items)].sort();

export function entityTemplate(model: ResourceModel): string {
  const { names, fields, softDelete } = model;
  const typeorm = sortedUnique([
    'Entity',
    'PrimaryGeneratedColumn',
    'CreateDateColumn',
    'UpdateDateColumn',
    'Index',
    ...(softDelete ? ['DeleteDateColumn'] : []),
    ...fields.flatMap((f) => f.typeorm),
  ]);
  const validators = sortedUnique(fields.flatMap((f) => f.validators));
  const targets = new Map<string, EntityRef>();
  fields.forEach((f) => f.target && targets.set(f.target.name, f.target));
  const imports = [
    fields.some((f) => f.swagger) ? `import { ApiProperty } from '@nestjs/swagger';` : '',
    validators.length > 0 ? `import { ${validators.join(', ')} } from 'class-validator';` : '',
    `import { ${typeorm.join(', ')} } from 'typeorm';`,
    ...[...targets.values()]
      .sort((a, b) => a.importPath.localeCompare(b.importPath))
      .map((t) => `import { ${t.name} } from '${t.importPath}';`),
  ].filter(Boolean);
  const enums = fields.flatMap((f) => (f.enumDeclaration ? [f.enumDeclaration] : []));
  return `${imports.join('\n')}

${enums.join('\n\n')}

/** A ${names.human}, served at \`/api/${names.plural}\` (see ${names.file}.resource.ts). */
@Entity(${lit(names.table)})
export class ${names.entity} {
  @PrimaryGeneratedColumn()
  id!: number;

${fields.map((f) => f.members).join('\n\n')}

  @Index()
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
${
  softDelete
    ? `
  @DeleteDateColumn({ type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
`
    : ''
}}
`;
}

export function resourceTemplate(model: ResourceModel): string {
  const { names, fields, softDelete } = model;
  const search = fields.filter((f) => f.search).map((f) => f.apiName);
  const filter = [...fields.filter((f) => f.filter).map((f) => f.apiName), 'createdAt', 'updatedAt'];
  const sort = [...fields.filter((f) => f.sort).map((f) => f.apiName), 'createdAt', 'updatedAt'];
  const include = fields
    .filter((f) => f.def.type === 'belongsTo' || f.def.type === 'manyToMany')
    .map((f) => f.def.name);
  const listDisplay = fields
    .filter((f) => f.list)
    .slice(0, 5)
    .map((f) => f.apiName);
  const title =
    fields.find((f) => f.def.type === 'string' && !f.def.optional) ??
    fields.find((f) => f.def.type === 'string');
  const options = [
    search.length > 0 ? `search: ${lit(search)},` : '',
    `filter: { ${filter.map((f) => `${f}: true`).join(', ')} },`,
    `sort: ${lit(sort)},`,
    `defaultSort: '-createdAt',`,
    include.length > 0 ? `include: ${lit(include)},` : '',
    `admin: { listDisplay: ${lit(listDisplay.length > 0 ? listDisplay : ['id', 'createdAt'])}${title ? `, titleField: ${lit(title.apiName)}` : ''} },`,
  ].filter(Boolean);
  const actions = softDelete
    ? 'list, get, create, update, delete (soft) and restore'
    : 'list, get, create, update and delete';
  return `import { ${names.entity} } from '${model.folder}/${names.file}.entity';
import { Resource } from 'nestor';

/**
 * \`/api/${names.plural}\`: ${actions}.
 * Callers need the ${names.plural}.view|add|change|delete permissions (superusers have them all);
 * \`public: ['list', 'get']\` would open reading to anonymous callers.
 */
@Resource(${names.entity}, {
  ${options.join('\n  ')}
})
export class ${names.entity}Resource {}
`;
}

export function moduleTemplate(model: ResourceModel): string {
  const { names } = model;
  return `import { Module } from '@nestjs/common';
import { ${names.entity}Resource } from '${model.folder}/${names.file}.resource';
import { ResourceModule } from 'nestor';

/** The ${names.humanPlural}: \`/api/${names.plural}\`, its docs and its admin page. Listed in src/app/modules.ts. */
@Module({
  imports: [ResourceModule.forFeature([${names.entity}Resource])],
})
export class ${model.moduleName} {}
`;
}

/** The unit spec: the entity's class-validator rules and the resource declaration, without a database. */
export function unitSpecTemplate(model: ResourceModel): string {
  const { names, fields } = model;
  const scalars = fields.filter((f) => f.sample !== undefined);
  const enums = sortedUnique(scalars.flatMap((f) => (f.enumName ? [f.enumName] : [])));
  const valid = scalars.map((f) => `${f.def.name}: ${f.sampleCode ?? lit(f.sample)},`).join('\n');
  const invalid = scalars.map((f) => `${f.def.name}: ${lit(f.invalid)},`).join('\n');
  const rejected = scalars.map((f) => f.def.name).sort();
  const validFn = `valid${names.entity}`;
  const rulesTests =
    scalars.length === 0
      ? ''
      : `
  it('accepts a valid ${names.human}', async () => {
    expect(await validate(${validFn}())).toEqual([]);
  });

  it('rejects a bad value in every field', async () => {
    const sut = Object.assign(${validFn}(), {
      ${invalid}
    });
    const errors = await validate(sut);
    expect(errors.map((e) => e.property).sort()).toEqual(${lit(rejected)});
  });
`;
  return `${scalars.length > 0 ? `import { validate } from 'class-validator';\n` : ''}import { ${[names.entity, ...enums].join(', ')} } from '${model.folder}/${names.file}.entity';
import { ${names.entity}Resource } from '${model.folder}/${names.file}.resource';
import { resourceDeclaration } from 'nestor';
${
  scalars.length > 0
    ? `
/** A ${names.human} whose own fields are all valid (relations are checked by the API: see the e2e spec). */
function ${validFn}(): ${names.entity} {
  return Object.assign(new ${names.entity}(), {
    ${valid}
  });
}
`
    : ''
}
describe(${names.entity}Resource.name, () => {
  it('declares the resource for ${names.entity}', () => {
    expect(resourceDeclaration(${names.entity}Resource)).toMatchObject({ entity: ${names.entity} });
  });
${rulesTests}});
`;
}

/** The e2e spec: the generated routes through the test kit, on a database of their own. */
export function e2eSpecTemplate(model: ResourceModel): string {
  const { names, fields } = model;
  const url = `/api/${names.plural}`;
  const targets = new Map<string, EntityRef>();
  fields.forEach((f) => f.target && targets.set(f.target.name, f.target));
  const imports = [
    ...[...targets.values()].map((t) => `import { ${t.name} } from '${t.importPath}';`),
    `import { AppModule } from 'src/app.module';`,
    `import { TestApp, createTestApp } from 'nestor/testing';`,
  ].sort((a, b) => a.slice(a.indexOf(' from ')).localeCompare(b.slice(b.indexOf(' from '))));
  const inputLines = fields.flatMap((f): string[] => {
    if (f.sample !== undefined) {
      return [`${f.apiName}: ${lit(f.sample)},`];
    }
    if (!f.target) {
      return []; // a self reference is optional: the first row has nothing to point at
    }
    const row = `(await t.factory(${f.target.name}).create()).id`;
    return [f.def.type === 'belongsTo' ? `${f.apiName}: ${row},` : `${f.apiName}: [${row}],`];
  });
  const scalar = fields.find((f) => f.sample !== undefined);
  const patch = scalar
    ? { name: scalar.apiName, value: lit(scalar.changed) }
    : fields[0].def.type === 'manyToMany'
      ? { name: fields[0].apiName, value: '[]' }
      : { name: fields[0].apiName, value: `input.${fields[0].apiName}` };
  const bad = scalar ?? fields[0];
  const badValue = scalar ? lit(scalar.invalid) : lit('not-an-id');
  const search = fields.find((f) => f.search);
  const listQuery = search ? `, query: { q: ${lit(search.sample)} }` : '';
  return `${imports.join('\n')}

/** \`${url}\` end to end: the generated routes, validation, permissions, docs and admin. */
describe('${url}', () => {
  let t: TestApp;
  /** A valid create body; related rows come from the test kit's factories. */
  let input: Record<string, unknown>;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    input = {
      ${inputLines.join('\n')}
    };
  });
  afterAll(() => t.close());

  it('creates, lists, reads, updates and deletes a ${names.human}', async () => {
    const created = await t.inject({ method: 'POST', url: '${url}', payload: input });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject(input);
    const { id } = created.json<{ id: number }>();

    const list = await t.inject({ url: '${url}'${listQuery} });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ data: { id: number }[] }>().data.map((row) => row.id)).toContain(id);

    const read = await t.inject(\`${url}/\${id}\`);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id, ...input });

    const changes = { ${patch.name}: ${patch.value} };
    const updated = await t.inject({ method: 'PATCH', url: \`${url}/\${id}\`, payload: changes });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({ id, ...changes });

    expect((await t.inject({ method: 'DELETE', url: \`${url}/\${id}\` })).statusCode).toBe(204);
    expect((await t.inject(\`${url}/\${id}\`)).statusCode).toBe(404);
  });

  it('refuses invalid input with a problem naming the field', async () => {
    const res = await t.inject({ method: 'POST', url: '${url}', payload: { ...input, ${bad.apiName}: ${badValue} } });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json<{ errors: { pointer: string }[] }>().errors.map((e) => e.pointer)).toContain('/${bad.apiName}');
  });

  it('refuses anonymous callers', async () => {
    expect((await t.anonymous().inject({ method: 'POST', url: '${url}', payload: input })).statusCode).toBe(401);
    expect((await t.anonymous().inject('${url}')).statusCode).toBe(401);
  });

  it('is in the OpenAPI document and the admin', async () => {
    const docs = await t.inject('/docs-json');
    expect(Object.keys(docs.json<{ paths: Record<string, unknown> }>().paths)).toContain('${url}');
    const admin = await t.inject('/admin/api/schema');
    expect(admin.json<{ resources: { path: string }[] }>().resources.map((r) => r.path)).toContain('${names.plural}');
  });
});
`;
}
