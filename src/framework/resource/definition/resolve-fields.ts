import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import {
  FieldRuleError,
  FieldRules,
  FieldType,
  columnRules,
  fieldRules,
  fieldTypeOf,
} from 'src/framework/fields/field-rules';
import {
  DefinitionContext,
  MAX_IDS,
  ResourceField,
} from 'src/framework/resource/definition/definition-types';

/** `tags` → `tagIds`, `categories` → `categoryIds`. */
function idsName(relation: string): string {
  const singular = relation.endsWith('ies')
    ? `${relation.slice(0, -3)}y`
    : /(ss|x|z|ch|sh)es$/.test(relation)
      ? relation.slice(0, -2)
      : relation.endsWith('s')
        ? relation.slice(0, -1)
        : relation;
  return `${singular}Ids`;
}

/** A relation whose key this entity holds: many-to-one, or the owning side of a one-to-one. */
export function isToOne(relation: RelationMetadata): boolean {
  return relation.isManyToOne || (relation.isOneToOne && relation.isOwning);
}

/** The type of a key as `<relation>Id(s)` carry it: integers and UUIDs as such, anything else as text. */
function idType(type: FieldType): FieldType {
  return type === 'integer' || type === 'bigint' || type === 'uuid' ? type : 'string';
}

/** The field's rules, or NST-R011 naming the rule that cannot be stated honestly. */
function rulesOf(context: DefinitionContext, base: FieldRules, property: string): FieldRules {
  try {
    return fieldRules(base, context.metadata.target, property);
  } catch (error) {
    if (error instanceof FieldRuleError) {
      context.fail('NST-R011', `field "${property}": ${error.message}`);
    }
    throw error;
  }
}

/** One field per table column: own columns, and explicit join columns as `toOneId`. */
function columnFields(context: DefinitionContext, fields: Map<string, ResourceField>): void {
  const { metadata } = context;
  const joinColumns = new Set(
    metadata.relations.filter(isToOne).flatMap((r) => r.joinColumns.map((c) => c.databaseName)),
  );
  for (const column of metadata.columns) {
    if (column.relationMetadata && column.propertyName === column.relationMetadata.propertyName) {
      continue; // an implicit join column: exposed as `<relation>Id` by relationFields
    }
    if (column.isVirtualProperty) {
      continue; // a @VirtualColumn is computed by a subquery: there is no table column to select or write
    }
    const generated =
      column.isPrimary ||
      column.isGenerated ||
      column.generatedType !== undefined || // GENERATED ALWAYS AS (…): PostgreSQL refuses writes
      column.isCreateDate ||
      column.isUpdateDate ||
      column.isDeleteDate ||
      column.isVersion;
    const type = fieldTypeOf(column);
    const rules = rulesOf(context, columnRules(column, type), column.propertyName);
    fields.set(column.propertyName, {
      name: column.propertyName,
      kind: joinColumns.has(column.databaseName) ? 'toOneId' : 'column',
      column,
      relation: metadata.relations.find(
        (r) => isToOne(r) && r.joinColumns.some((c) => c.databaseName === column.databaseName),
      ),
      type,
      ...(column.isArray ? { array: true as const } : {}),
      nullable: rules.nullable,
      enumValues: rules.enum,
      readable: true,
      writable: !generated,
      required: !generated && !column.isNullable && column.default === undefined,
      rules,
    });
  }
}

/** `<relation>Id` for implicit to-one join columns and `<relation>Ids` for many-to-many relations. */
function relationFields(context: DefinitionContext, fields: Map<string, ResourceField>): void {
  for (const relation of context.metadata.relations) {
    if (isToOne(relation)) {
      const join = relation.joinColumns[0];
      const name = `${relation.propertyName}Id`;
      if (!fields.has(name) && join) {
        const referenced = join.referencedColumn ?? join;
        const type = idType(fieldTypeOf(referenced));
        fields.set(name, {
          name,
          kind: 'toOneId',
          column: join,
          relation,
          type,
          nullable: relation.isNullable,
          readable: true,
          writable: true,
          required: !relation.isNullable,
          rules: { ...columnRules(referenced, type), nullable: relation.isNullable, default: undefined },
        });
      }
    } else if (relation.isManyToMany) {
      const name = idsName(relation.propertyName);
      const target = relation.inverseEntityMetadata.primaryColumns[0];
      const type = idType(fieldTypeOf(target));
      fields.set(name, {
        name,
        kind: 'toManyIds',
        relation,
        type,
        nullable: false,
        readable: true,
        writable: true,
        required: false,
        rules: { ...columnRules(target, type), nullable: false, default: undefined, maxItems: MAX_IDS },
      });
    }
  }
}

/** NST-R001 unless every name is a field of the resource. */
export function checkKnown(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
  option: string,
  names: Iterable<string>,
): void {
  for (const name of names) {
    if (!fields.has(name)) {
      context.fail(
        'NST-R001',
        `option "${option}" names unknown field "${name}" (fields: ${[...fields.keys()].join(', ')})`,
      );
    }
  }
}

/** Options `hidden`, `writeOnly` and `readOnly`: who may read and write each field. */
function applyVisibility(context: DefinitionContext, fields: Map<string, ResourceField>): void {
  const { options } = context;
  const hidden = new Set(options.hidden ?? []);
  const writeOnly = new Set(options.writeOnly ?? []);
  const readOnly = new Set(options.readOnly ?? []);
  checkKnown(context, fields, 'hidden', hidden);
  checkKnown(context, fields, 'writeOnly', writeOnly);
  checkKnown(context, fields, 'readOnly', readOnly);
  for (const field of fields.values()) {
    if (hidden.has(field.name)) {
      field.readable = false;
      field.writable = false;
    }
    if (writeOnly.has(field.name)) {
      field.readable = false;
    }
    if (readOnly.has(field.name)) {
      field.writable = false;
      field.required = false;
    }
  }
}

/** The fields of the API representation, with options `hidden`, `writeOnly` and `readOnly` applied. */
export function resolveFields(context: DefinitionContext): Map<string, ResourceField> {
  const fields = new Map<string, ResourceField>();
  columnFields(context, fields);
  relationFields(context, fields);
  applyVisibility(context, fields);
  return fields;
}

/** Option `owner`: the `<owner>Id` field, set from the caller and never from the body. */
export function resolveOwner(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
): ResourceField | undefined {
  const { options, metadata, fail } = context;
  if (options.owner === undefined) {
    return undefined;
  }
  const relation = metadata.relations.find((r) => r.propertyName === options.owner);
  const owner = fields.get(`${options.owner}Id`);
  if (!relation || !isToOne(relation) || !owner) {
    fail(
      'NST-R001',
      `option "owner" names "${options.owner}", which is not a to-one relation of ${metadata.name}`,
    );
  }
  owner!.writable = false; // set from the caller, never from the body
  owner!.required = false;
  return owner;
}
