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
 * What `nestor generate resource` knows about the resource it writes: one model per field (its entity member,
 * sample values and list options), read by the templates in resource.templates.ts and resource-spec.templates.ts.
 */

/** Everything a template needs to know about one field. */
export interface FieldModel {
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

export const lit = (value: unknown): string => JSON.stringify(value);

export const sortedUnique = (items: string[]): string[] => [...new Set(items)].sort();

/** The entities the fields point at, once each, by name. */
export function relatedEntities(fields: FieldModel[]): EntityRef[] {
  const targets = new Map<string, EntityRef>();
  fields.forEach((f) => f.target && targets.set(f.target.name, f.target));
  return [...targets.values()];
}

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

/** What a scalar type's step gets: the field, and `column` to write its entity member. */
interface ScalarContext {
  def: FieldDef;
  names: ResourceNames;
  /** The field's name in words: `unit price`. */
  label: string;
  /** The member's decorators and declaration; reads `model.sample` for the `@ApiProperty` example. */
  column: (column: Record<string, string>, rules: string[], tsType: string, comment?: string) => string;
}

/** One step per scalar type: its sample, changed and rejected values, its list flags, rules and column. */
const scalarTypes: Record<string, (model: FieldModel, c: ScalarContext) => void> = {
  string(model, { def, label, column }) {
    const length = def.length!;
    model.sample = `Example ${label}`.slice(0, length);
    model.changed = 'Changed'.slice(0, length);
    model.invalid = 42;
    model.search = true;
    const rules = def.optional
      ? ['@IsString()', `@MaxLength(${length})`]
      : ['@IsString()', `@Length(1, ${length})`];
    model.validators.push('IsString', def.optional ? 'MaxLength' : 'Length');
    model.members = column({ type: lit('varchar'), length: String(length) }, rules, 'string');
  },
  text(model, { label, column }) {
    model.sample = `Some ${label}`;
    model.changed = `Other ${label}`;
    model.invalid = 42;
    model.search = true;
    model.filter = model.sort = model.list = false;
    model.validators.push('IsString');
    model.members = column({ type: lit('text') }, ['@IsString()'], 'string');
  },
  int(model, { column }) {
    model.sample = 3;
    model.changed = 4;
    model.invalid = 1.5;
    model.validators.push('IsInt');
    model.members = column({ type: lit('int') }, ['@IsInt()'], 'number');
  },
  decimal(model, { def, column }) {
    const precision = def.precision!;
    const scale = def.scale!;
    const digits = precision - scale;
    model.sample = decimalSample(precision, scale, '12', '5');
    model.changed = decimalSample(precision, scale, '99', '25');
    model.invalid = `1.${'1'.repeat(scale + 1)}`;
    model.validators.push('Matches');
    const pattern = scale > 0 ? `/^-?\\d{1,${digits}}(\\.\\d{1,${scale}})?$/` : `/^-?\\d{1,${digits}}$/`;
    const message = `${def.name} must be a decimal with at most ${digits} digits before and ${scale} after the point, e.g. "${String(model.sample)}"`;
    model.members = column(
      { type: lit('numeric'), precision: String(precision), scale: String(scale) },
      [`@Matches(${pattern}, { message: ${lit(message)} })`],
      'string',
      `// A decimal string (${lit(model.sample)}); numbers are accepted on input and stored exactly.\n`,
    );
  },
  float(model, { column }) {
    model.sample = 1.5;
    model.changed = 2.5;
    model.invalid = 'many';
    model.validators.push('IsNumber');
    model.members = column({ type: lit('double precision') }, ['@IsNumber()'], 'number');
  },
  bool(model, { column }) {
    model.sample = true;
    model.changed = false;
    model.invalid = 'yes';
    model.validators.push('IsBoolean');
    model.members = column({ type: lit('boolean'), default: 'false' }, ['@IsBoolean()'], 'boolean');
  },
  date(model, { def, column }) {
    model.sample = '2024-05-01';
    model.changed = '2024-06-01';
    model.invalid = '01/05/2024';
    model.validators.push('Matches');
    model.members = column(
      { type: lit('date') },
      [
        `@Matches(/^\\d{4}-\\d{2}-\\d{2}$/, { message: ${lit(`${def.name} must be a date like "2024-05-01"`)} })`,
      ],
      'string',
      '// A calendar day, `YYYY-MM-DD`.\n',
    );
  },
  datetime(model, { column }) {
    model.sample = '2024-05-01T12:00:00.000Z';
    model.changed = '2024-06-01T08:30:00.000Z';
    model.sampleCode = `new Date(${lit(model.sample)})`;
    model.invalid = 'soon';
    model.validators.push('IsDate');
    model.members = column({ type: lit('timestamptz') }, ['@IsDate()'], 'Date');
  },
  json(model, { column }) {
    model.sample = { key: 'value' };
    model.changed = { key: 'changed' };
    model.invalid = 'text';
    model.filter = model.sort = model.list = false;
    model.validators.push('IsObject');
    model.members = column(
      { type: lit('jsonb') },
      ['@IsObject()'],
      'Record<string, unknown>',
      '// A JSON object.\n',
    );
  },
  uuid(model, { column }) {
    model.sample = '0f8fad5b-d9cb-469f-a165-70867728950e';
    model.changed = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    model.invalid = 'not-a-uuid';
    model.sort = false;
    model.validators.push('IsUUID');
    model.members = column({ type: lit('uuid') }, ['@IsUUID()'], 'string');
  },
  enum(model, { def, names, column }) {
    const values = def.enumValues!;
    const enumName = `${names.entity}${pascalCase(def.name)}`;
    const member0 = `${enumName}.${pascalCase(values[0])}`;
    const last = values[values.length - 1];
    model.enumName = enumName;
    model.enumDeclaration = `export enum ${enumName} {\n${values.map((v) => `  ${pascalCase(v)} = ${lit(v)},`).join('\n')}\n}`;
    model.sample = last;
    model.sampleCode = `${enumName}.${pascalCase(last)}`;
    model.changed = values[0];
    model.invalid = 'not-a-choice';
    model.validators.push('IsEnum');
    model.members = column(
      {
        type: lit('enum'),
        enum: enumName,
        enumName: lit(`${names.table}_${snakeCase(def.name)}`),
        default: member0,
      },
      [`@IsEnum(${enumName})`],
      enumName,
    );
  },
};

function scalarModel(def: FieldDef, names: ResourceNames): FieldModel {
  const { name, optional } = def;
  const step = Object.hasOwn(scalarTypes, def.type) ? scalarTypes[def.type] : undefined;
  if (!step) {
    throw new Error(`not a scalar type: ${def.type}`);
  }
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
  const column = (options: Record<string, string>, rules: string[], tsType: string, comment = ''): string => {
    const example = model.sample === undefined ? '' : `@ApiProperty({ example: ${lit(model.sample)} })\n`;
    return `${comment}${example}@Column(${columnOptions(def, options)})
      ${optional ? '@IsOptional()\n' : ''}${rules.join('\n')}
      ${name}!: ${tsType}${optional ? ' | null' : ''};`;
  };
  step(model, { def, names, label: words(name).join(' '), column });
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
