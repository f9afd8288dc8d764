import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';
import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import { columnRules, fieldTypeOf } from 'src/framework/fields/field-rules';
import {
  DefinitionContext,
  FieldPath,
  MAX_INCLUDE_DEPTH,
  ResourceField,
} from 'src/framework/resource/definition/definition-types';
import { isToOne } from 'src/framework/resource/definition/resolve-fields';

/**
 * A related entity's column by its API name, as on the entity's own resource: a property, or `<relation>Id`
 * for an implicit join column (the relation itself, e.g. `publisher.country`, is not a column).
 */
function relatedColumn(metadata: EntityMetadata, name: string): ColumnMetadata | undefined {
  return (
    metadata.columns.find(
      (c) =>
        c.propertyName === name &&
        !c.isVirtualProperty &&
        !(c.relationMetadata && c.propertyName === c.relationMetadata.propertyName),
    ) ?? metadata.relations.find((r) => isToOne(r) && `${r.propertyName}Id` === name)?.joinColumns[0]
  );
}

function enumValuesOf(column: ColumnMetadata): string[] | undefined {
  return column.enum?.map(String);
}

/** Resolves `price` or `category.slug` to a column, or fails naming the option. */
export type ResolvePath = (option: string, path: string) => FieldPath;

/** The relations a path walks through (at most MAX_INCLUDE_DEPTH) and the entity it ends on. */
function relationChain(
  context: DefinitionContext,
  option: string,
  path: string,
): { chain: RelationMetadata[]; last: EntityMetadata } {
  const parts = path.split('.');
  const chain: RelationMetadata[] = [];
  let current = context.metadata;
  for (const part of parts.slice(0, -1)) {
    const relation = current.relations.find((r) => r.propertyName === part);
    if (!relation) {
      context.fail(
        'NST-R001',
        `option "${option}" names "${path}", but ${current.name} has no relation "${part}"`,
      );
    }
    chain.push(relation);
    current = relation.inverseEntityMetadata;
  }
  if (chain.length > MAX_INCLUDE_DEPTH) {
    context.fail(
      'NST-R003',
      `option "${option}" path "${path}" is deeper than ${MAX_INCLUDE_DEPTH} relations`,
    );
  }
  return { chain, last: current };
}

/**
 * The resolver of field paths named by options, and the map it fills (each path resolved once, in the order
 * options first name it).
 */
export function pathResolver(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
): { paths: Map<string, FieldPath>; resolvePath: ResolvePath } {
  const paths = new Map<string, FieldPath>();
  const resolvePath = (option: string, path: string): FieldPath => {
    const existing = paths.get(path);
    if (existing) {
      return existing;
    }
    const { chain, last: current } = relationChain(context, option, path);
    const parts = path.split('.');
    const last = parts[parts.length - 1];
    let column: ColumnMetadata | undefined;
    let field: ResourceField | undefined;
    if (chain.length === 0) {
      field = fields.get(last);
      column = field?.kind === 'toManyIds' ? undefined : field?.column;
      if (field && !field.readable) {
        context.fail('NST-R001', `option "${option}" names "${path}", which is hidden or write-only`);
      }
    } else {
      column = relatedColumn(current, last);
    }
    if (!column) {
      context.fail('NST-R001', `option "${option}" names unknown field "${path}"`);
    }
    const type = field?.type ?? fieldTypeOf(column);
    const resolved: FieldPath = {
      spec: {
        path,
        type,
        nullable: column.isNullable || chain.some((r) => r.isNullable || !isToOne(r)),
        enumValues: type === 'enum' ? enumValuesOf(column) : undefined,
        ...(type === 'integer'
          ? { integerFormat: columnRules(column, type).format === 'int16' ? 'int16' : 'int32' }
          : {}),
      },
      relations: chain,
      column: column,
    };
    paths.set(path, resolved);
    return resolved;
  };
  return { paths, resolvePath };
}
