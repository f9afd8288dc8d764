import {
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isNonNullType,
  isObjectType,
  isSpecifiedScalarType,
  type GraphQLFieldConfigMap,
  type GraphQLInputFieldConfigMap,
  type GraphQLNamedType,
  type GraphQLType,
} from 'graphql';
import { GraphqlSchemaError } from 'src/framework/graphql/resource-types';

/** The generated part of the schema: resource types and root fields. */
export interface GeneratedSchema {
  types: GraphQLNamedType[];
  query: GraphQLFieldConfigMap<unknown, unknown>;
  mutation: GraphQLFieldConfigMap<unknown, unknown>;
  subscription: GraphQLFieldConfigMap<unknown, unknown>;
}

/**
 * Copies code-first types so that every reference to a type the generated schema also names points at the
 * generated one (graphql-js types hold their references, so a stand-in must be replaced where used).
 */
class Rewirer {
  private readonly rebuilt = new Map<string, GraphQLNamedType>();

  constructor(private readonly byName: ReadonlyMap<string, GraphQLNamedType>) {}

  named(type: GraphQLNamedType): GraphQLNamedType {
    const replacement = this.byName.get(type.name);
    if (replacement) {
      return replacement;
    }
    if (isSpecifiedScalarType(type) || isIntrospectionType(type)) {
      return type;
    }
    let copy = this.rebuilt.get(type.name);
    if (copy) {
      return copy;
    }
    copy = type;
    if (isObjectType(type)) {
      const config = type.toConfig();
      copy = new GraphQLObjectType({
        ...config,
        interfaces: () => config.interfaces.map((i) => this.named(i) as GraphQLInterfaceType),
        fields: () => this.outputFields(config.fields),
      });
    } else if (isInterfaceType(type)) {
      const config = type.toConfig();
      copy = new GraphQLInterfaceType({ ...config, fields: () => this.outputFields(config.fields) });
    } else if (isInputObjectType(type)) {
      const config = type.toConfig();
      copy = new GraphQLInputObjectType({ ...config, fields: () => this.inputFields(config.fields) });
    }
    this.rebuilt.set(type.name, copy);
    return copy;
  }

  wrap<T extends GraphQLType>(type: T): T {
    if (isNonNullType(type)) {
      return new GraphQLNonNull(this.wrap(type.ofType)) as unknown as T;
    }
    if (isListType(type)) {
      return new GraphQLList(this.wrap(type.ofType)) as unknown as T;
    }
    return this.named(type as GraphQLNamedType) as T;
  }

  outputFields(fields: GraphQLFieldConfigMap<unknown, unknown>): GraphQLFieldConfigMap<unknown, unknown> {
    return Object.fromEntries(
      Object.entries(fields).map(([name, field]) => [
        name,
        {
          ...field,
          type: this.wrap(field.type),
          args: Object.fromEntries(
            Object.entries(field.args ?? {}).map(([arg, config]) => [
              arg,
              { ...config, type: this.wrap(config.type) },
            ]),
          ),
        },
      ]),
    );
  }

  inputFields(fields: GraphQLInputFieldConfigMap): GraphQLInputFieldConfigMap {
    return Object.fromEntries(
      Object.entries(fields).map(([name, field]) => [name, { ...field, type: this.wrap(field.type) }]),
    );
  }
}

/**
 * The app's code-first schema (its `@Resolver`s, built by @nestjs/graphql) joined with the generated one.
 * A code-first type named like a resource (`resourceObjectType(OrderResource)`, a stand-in) is replaced by
 * the generated type everywhere it is referenced, so a custom `placeOrder` answers the full `Order`.
 * A root field defined twice stops the boot (NST-Q002).
 */
export function mergeSchemas(code: GraphQLSchema, generated: GeneratedSchema): GraphQLSchema {
  const byName = new Map(generated.types.map((type) => [type.name, type]));
  const rewirer = new Rewirer(byName);
  const root = (
    name: 'Query' | 'Mutation' | 'Subscription',
    own: GraphQLObjectType | null | undefined,
    extra: GraphQLFieldConfigMap<unknown, unknown>,
  ) => {
    const fields = rewirer.outputFields(own?.toConfig().fields ?? {});
    for (const [field, config] of Object.entries(extra)) {
      if (fields[field]) {
        throw new GraphqlSchemaError(
          'NST-Q002',
          `${name}.${field} is defined by a @Resolver and generated for a resource: rename the custom one`,
        );
      }
      fields[field] = config;
    }
    return Object.keys(fields).length > 0 ? new GraphQLObjectType({ name, fields }) : undefined;
  };
  const others = Object.values(code.getTypeMap())
    .filter((type) => !['Query', 'Mutation', 'Subscription'].includes(type.name) && !byName.has(type.name))
    .map((type) => rewirer.named(type));
  return new GraphQLSchema({
    query: root('Query', code.getQueryType(), generated.query),
    mutation: root('Mutation', code.getMutationType(), generated.mutation),
    // The resources' live updates beside an app's code-first subscriptions (their payloads rewired too).
    subscription: root('Subscription', code.getSubscriptionType(), generated.subscription),
    types: [...generated.types, ...others],
  });
}
