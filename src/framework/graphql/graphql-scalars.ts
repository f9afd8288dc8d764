import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLInt,
  GraphQLScalarType,
  GraphQLString,
  valueFromASTUntyped,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import type { ResourceField } from 'src/framework/resource/resource-definition';

/**
 * `json` columns: any JSON value, validated by the field's rules on write like a REST body.
 * Example: `{ createProduct(input: { meta: { a: 1 } }) { id } }`.
 */
export const GraphQLJSONValue = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value (a json column).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

const NAME_RE = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** Whether `name` can be a GraphQL name (field, type or enum value). */
export function isGraphqlName(name: string): boolean {
  return NAME_RE.test(name) && !name.startsWith('__');
}

/** `order-items` → `orderItems`, `category.slug` → `category_slug`. */
export function camel(path: string): string {
  return path.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()).replace(/\./g, '_');
}

/** `category.slug` → `CategorySlug`. */
export function pascal(path: string): string {
  const name = camel(path).replace(/_([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * The GraphQL types of field values, built once per schema: enums are named `<Type><Field>` and serve both
 * as output and input; enum values that are not GraphQL names (`in-stock`) make the field a String.
 */
export class FieldScalars {
  private readonly enums = new Map<string, GraphQLEnumType>();

  /** The scalar (or enum) of one value of `field`, as REST serialises it: decimals and bigints are strings. */
  of(
    typeName: string,
    field: Pick<ResourceField, 'name' | 'type' | 'enumValues'>,
  ): GraphQLInputType & GraphQLOutputType {
    // Keys keep their column's type (integer ids are Int), as REST's JSON numbers: one id, one spelling.
    switch (field.type) {
      case 'integer':
        return GraphQLInt;
      case 'number':
        return GraphQLFloat;
      case 'boolean':
        return GraphQLBoolean;
      case 'json':
        return GraphQLJSONValue;
      case 'enum':
        return this.enumOf(typeName, field.name, field.enumValues ?? []);
      default:
        return GraphQLString; // string, text, uuid, decimal, bigint, date, datetime: REST's JSON strings
    }
  }

  private enumOf(
    typeName: string,
    fieldName: string,
    values: readonly string[],
  ): GraphQLEnumType | GraphQLScalarType {
    const named = values.every((v) => isGraphqlName(v) && !['true', 'false', 'null'].includes(v));
    if (values.length === 0 || !named) {
      return GraphQLString;
    }
    const name = `${typeName}${pascal(fieldName)}`;
    let found = this.enums.get(name);
    if (!found) {
      found = new GraphQLEnumType({
        name,
        values: Object.fromEntries(values.map((v) => [v, { value: v }])),
      });
      this.enums.set(name, found);
    }
    return found;
  }
}
