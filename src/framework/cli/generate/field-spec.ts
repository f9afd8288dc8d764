import { CliError } from 'src/framework/cli/context';
import { RESERVED_WORDS, pascalCase, singular } from 'src/framework/cli/generate/names';

/** The column types `--fields` knows, after aliases (`integer` → `int`, `boolean` → `bool`). */
export const SCALAR_TYPES = [
  'string',
  'text',
  'int',
  'decimal',
  'float',
  'bool',
  'date',
  'datetime',
  'json',
  'uuid',
  'enum',
] as const;
export type ScalarType = (typeof SCALAR_TYPES)[number];
export type FieldType = ScalarType | 'belongsTo' | 'manyToMany';

const ALIASES: Record<string, FieldType> = {
  integer: 'int',
  boolean: 'bool',
  timestamp: 'datetime',
  belongsto: 'belongsTo',
  manytomany: 'manyToMany',
};

/** Fields every generated entity has already, and names the framework gives a meaning. */
export const RESERVED_FIELDS = ['id', 'createdAt', 'updatedAt', 'deletedAt', 'version', 'constructor'];

/** Types a unique constraint makes sense for (`code:string!`). */
const UNIQUE_TYPES: readonly FieldType[] = [
  'string',
  'text',
  'int',
  'decimal',
  'float',
  'date',
  'datetime',
  'uuid',
];

/** One parsed `name:type(args)?!` of `--fields`. */
export interface FieldDef {
  /** The property name, camelCase: `price`. */
  name: string;
  type: FieldType;
  /** `name:string?`: the column is nullable and the field optional on create. */
  optional: boolean;
  /** `code:string!`: a unique constraint. */
  unique: boolean;
  /** varchar length: `string(50)` (default 200). */
  length?: number;
  /** numeric precision and scale: `decimal(12,4)` (default 10,2). */
  precision?: number;
  scale?: number;
  /** `enum(draft,active)`. */
  enumValues?: string[];
  /** The related entity class of `belongsTo(Category)` / `manyToMany(Tag)`. */
  target?: string;
  /** As written, for messages. */
  spec: string;
}

/** A relation target the generator can import. */
export interface EntityRef {
  name: string;
  /** Import path without extension: `src/app/catalog/category.entity`. */
  importPath: string;
  /** The primary key's type: `number` for `@PrimaryGeneratedColumn()`, `uuid` for `('uuid')`. */
  idType: 'int' | 'uuid';
}

export interface ParseFieldsOptions {
  /** The entity being generated: a relation to it is a self reference. */
  entity: string;
  /** Entities found in the project, by class name. */
  entities: ReadonlyMap<string, EntityRef>;
}

/** The `--fields` syntax, for `--help` and error messages. */
export const FIELDS_HELP = `Fields: space-separated name:type, quoted as one argument.
  Types:  string (varchar 200; string(50) sets the length), text, int, decimal (numeric 10,2 as a
          decimal string "12.50"; decimal(12,4)), float, bool (default false), date, datetime,
          json (an object), uuid, enum(a,b,c) (default: the first value),
          belongsTo(Entity) (a required <name>Id foreign key), manyToMany(Entity) (<name>Ids)
  Suffixes: ? optional (nullable), ! unique, e.g. "code:string(20)! note:text? parent:belongsTo(Category)?"
  Names are camelCase; id, createdAt, updatedAt, deletedAt and version are added or reserved.
  Relation targets are the classes of src/app/**/*.entity.ts, and User.`;

const TOKEN_RE = /^([^:\s]+):([A-Za-z]+)(?:\((.*)\))?([?!]*)$/;
const FIELD_NAME_RE = /^[a-z][A-Za-z0-9]*$/;
const ENUM_VALUE_RE = /^[a-z][a-z0-9]*([_-][a-z0-9]+)*$/;
const MAX_VARCHAR = 10_485_760;

function fail(message: string): never {
  throw new CliError(message);
}

/** Splits `a:string b:enum(x, y)` at whitespace outside parentheses. */
export function tokenize(spec: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let depth = 0;
  for (const char of spec) {
    if (char === '(') {
      depth++;
    } else if (char === ')') {
      depth = Math.max(0, depth - 1);
    }
    if (/\s/.test(char) && depth === 0) {
      if (current) {
        tokens.push(current);
      }
      current = '';
    } else if (!/\s/.test(char)) {
      current += char;
    }
  }
  if (current) {
    tokens.push(current);
  }
  return tokens;
}

function positiveInt(text: string, spec: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) {
    fail(`NST-G008 Field "${spec}": ${what} must be a whole number, got "${text}"`);
  }
  return Number(text.trim());
}

/** NST-G004 unless camelCase, NST-G006 when the entity or TypeScript already uses the name. */
function checkName(name: string): void {
  if (!FIELD_NAME_RE.test(name)) {
    const hint = /^[A-Za-z][A-Za-z0-9_-]*$/.test(name)
      ? ` (e.g. "${pascalCase(name)[0].toLowerCase()}${pascalCase(name).slice(1)}")`
      : '';
    fail(
      `NST-G004 Field name "${name}" must be camelCase: a lowercase letter, then letters and digits${hint}`,
    );
  }
  if (RESERVED_FIELDS.includes(name) || RESERVED_WORDS.has(name)) {
    fail(
      `NST-G006 Field name "${name}" is reserved (every entity gets ${RESERVED_FIELDS.slice(0, 3).join(', ')}; ${RESERVED_FIELDS.slice(3).join(', ')} and TypeScript keywords are taken)`,
    );
  }
}

/** What the arguments of a type (`string(80)`, `decimal(12,4)`, `enum(a,b)`, `belongsTo(User)`) set on the field. */
type ArgumentsStep = (field: FieldDef, args: string | undefined, options: ParseFieldsOptions) => void;

function relationArguments(field: FieldDef, args: string | undefined, options: ParseFieldsOptions): void {
  const { name, type, optional, spec: token } = field;
  const target = (args ?? '').trim();
  if (type === 'manyToMany' && optional) {
    fail(`NST-G009 Field "${token}": a manyToMany is always optional (an empty list); drop the ?`);
  }
  if (target !== options.entity && !options.entities.has(target)) {
    const known = [...options.entities.keys()].sort().join(', ');
    fail(
      `NST-G007 Field "${token}": no entity class "${target}" in src/app/**/*.entity.ts or the framework's User (entities: ${known})`,
    );
  }
  if (type === 'belongsTo' && target === options.entity && !optional) {
    fail(
      `NST-G009 Field "${token}": a belongsTo to ${target} itself must be optional (${name}:belongsTo(${target})?): the first row has no parent`,
    );
  }
  if (name.endsWith('Id') || name.endsWith('Ids')) {
    fail(
      `NST-G004 Field "${token}": name the relation, not its key ("${name.replace(/Ids?$/, '')}"); the id field is added`,
    );
  }
  field.target = target;
}

/** The types that take arguments; the others refuse any (NST-G008). */
const typeArguments: Partial<Record<FieldType, ArgumentsStep>> = {
  string(field, args) {
    const token = field.spec;
    field.length = args === undefined ? 200 : positiveInt(args, token, 'the length');
    if (field.length < 1 || field.length > MAX_VARCHAR) {
      fail(`NST-G008 Field "${token}": the length must be between 1 and ${MAX_VARCHAR}`);
    }
  },
  decimal(field, args) {
    const token = field.spec;
    const parts = args === undefined ? ['10', '2'] : args.split(',');
    if (parts.length !== 2) {
      fail(`NST-G008 Field "${token}": write decimal(precision,scale), e.g. decimal(12,4)`);
    }
    field.precision = positiveInt(parts[0], token, 'the precision');
    field.scale = positiveInt(parts[1], token, 'the scale');
    if (field.precision < 1 || field.precision > 1000 || field.scale >= field.precision) {
      fail(`NST-G008 Field "${token}": need 1 ≤ precision ≤ 1000 and scale < precision`);
    }
  },
  enum(field, args) {
    const token = field.spec;
    const values = (args ?? '').split(',').map((v) => v.trim());
    if (values.length === 0 || values.some((v) => !ENUM_VALUE_RE.test(v))) {
      fail(
        `NST-G008 Field "${token}": enum values are lowercase words (a-z, 0-9, - or _), e.g. enum(draft,active)`,
      );
    }
    const members = values.map(pascalCase);
    const duplicate = members.find((m, i) => members.indexOf(m) !== i);
    if (duplicate) {
      fail(`NST-G005 Field "${token}": the enum value "${values[members.indexOf(duplicate)]}" appears twice`);
    }
    field.enumValues = values;
  },
  belongsTo: relationArguments,
  manyToMany: relationArguments,
};

function parseOne(token: string, options: ParseFieldsOptions): FieldDef {
  const match = TOKEN_RE.exec(token);
  if (!match) {
    fail(`NST-G002 Field "${token}" is not name:type (e.g. price:decimal).\n${FIELDS_HELP}`);
  }
  const [, name, rawType, args, suffix] = match;
  const type: FieldType | undefined = (SCALAR_TYPES as readonly string[]).includes(rawType)
    ? (rawType as ScalarType)
    : rawType === 'belongsTo' || rawType === 'manyToMany'
      ? rawType
      : ALIASES[rawType.toLowerCase()];
  checkName(name);
  if (!type) {
    fail(
      `NST-G003 Field "${token}": unknown type "${rawType}" (types: ${[...SCALAR_TYPES, 'belongsTo', 'manyToMany'].join(', ')})`,
    );
  }
  const optional = suffix.includes('?');
  const unique = suffix.includes('!');
  const field: FieldDef = { name, type, optional, unique, spec: token };
  const step = typeArguments[type];
  if (args !== undefined && !step) {
    fail(`NST-G008 Field "${token}": type ${type} takes no arguments`);
  }
  if (unique && !UNIQUE_TYPES.includes(type)) {
    fail(`NST-G009 Field "${token}": ! (unique) applies to ${UNIQUE_TYPES.join(', ')}, not ${type}`);
  }
  step?.(field, args, options);
  return field;
}

/** The API field names a relation adds: `category` → `categoryId`, `tags` → `tagIds`. */
export function derivedNames(field: FieldDef): string[] {
  if (field.type === 'belongsTo') {
    return [`${field.name}Id`];
  }
  return field.type === 'manyToMany' ? [`${singular(field.name)}Ids`] : [];
}

/**
 * Parses `--fields` (`"name:string price:decimal tags:manyToMany(Tag)"`), checking every name and type.
 * A bad spec throws a coded CliError (NST-G002…G009) before anything is written.
 */
export function parseFields(spec: string, options: ParseFieldsOptions): FieldDef[] {
  const tokens = tokenize(spec);
  if (tokens.length === 0) {
    fail(`NST-G002 Give the fields, e.g. --fields "name:string price:decimal".\n${FIELDS_HELP}`);
  }
  const fields = tokens.map((token) => parseOne(token, options));
  const taken = new Map<string, string>();
  for (const field of fields) {
    for (const name of [field.name, ...derivedNames(field)]) {
      const previous = taken.get(name);
      if (previous !== undefined) {
        fail(`NST-G005 Field "${field.spec}": "${name}" is already a field (from "${previous}")`);
      }
      if (RESERVED_FIELDS.includes(name)) {
        fail(`NST-G006 Field "${field.spec}" would add "${name}", which is reserved`);
      }
      taken.set(name, field.spec);
    }
  }
  return fields;
}
