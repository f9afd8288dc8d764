import { Injectable, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Field, ID, ObjectType } from '@nestjs/graphql';
import type { FastifyRequest } from 'fastify';
import { GraphQLSchema } from 'graphql';
import { DataSource } from 'typeorm';
import type { Principal } from 'src/framework/access/principal';
import { authorizeResource } from 'src/framework/auth/auth.guard';
import { PreparedStatements } from 'src/framework/resource/prepared-statements';
import { ownerScopeOf } from 'src/framework/resource/resource-rows';
import { resourceServiceToken } from 'src/framework/resource/resource.module';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import type { ResourceService } from 'src/framework/resource/resource.service';
import { resourceDeclaration } from 'src/framework/resource/resource.decorator';
import { RelationLoaders } from 'src/framework/graphql/relation-loaders';
import { OperationDeps, resourceMutations, resourceQueries } from 'src/framework/graphql/resource-operations';
import { PAGE_INFO, ResourceTypeRegistry, TRASHED_ENUM } from 'src/framework/graphql/resource-types';
import { LiveUpdates } from 'src/framework/graphql/live-updates';
import { resourceSubscriptions, type SubscriptionDeps } from 'src/framework/graphql/resource-subscriptions';
import { mergeSchemas, type GeneratedSchema } from 'src/framework/graphql/schema-merge';

/** What every resolver finds in its context: the HTTP request (with its principal) and the relation loaders. */
export interface GraphqlContext {
  req: FastifyRequest & { principal?: Principal };
  loaders: RelationLoaders;
}

const STAND_INS = new Map<Type, Type>();

/**
 * The GraphQL object type of a resource, for `@Query`/`@Mutation` return types in your own resolvers: a
 * stand-in that the generated type (every readable field, relations) replaces when the schema is built.
 * Call it when your module loads (not inside the decorator's thunk, which runs too late to declare a type).
 * Example: `const OrderType = resourceObjectType(OrderResource);` then `@Mutation(() => OrderType)`.
 */
export function resourceObjectType(resourceClass: Type): Type {
  let type = STAND_INS.get(resourceClass);
  if (!type) {
    const declaration = resourceDeclaration(resourceClass);
    if (!declaration) {
      throw new Error(`NST-Q003 ${resourceClass.name} is not decorated with @Resource`);
    }
    const name = declaration.entity.name;
    type = class {};
    Object.defineProperty(type, 'name', { value: `${name}GraphqlStandIn` });
    // The stand-in's one field only makes the code-first schema valid; the generated type replaces it.
    Field(() => ID)(type.prototype as object, 'id');
    ObjectType(name)(type);
    STAND_INS.set(resourceClass, type);
  }
  return type;
}

/**
 * Builds the resource part of the GraphQL schema from the registry at boot and joins it to the app's
 * code-first resolvers. `types` is the seam other GraphQL layers (subscriptions) reuse: one object type per
 * resource. Example: `schema.types.of(registry.get(ProductResource)).object`.
 */
@Injectable()
export class ResourceGraphqlSchema {
  private built?: ResourceTypeRegistry;
  private reads?: PreparedStatements;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly moduleRef: ModuleRef,
    private readonly dataSource: DataSource,
    private readonly live: LiveUpdates,
  ) {}

  /** Every resource's types (after boot). */
  get types(): ResourceTypeRegistry {
    // In an application context without HTTP (worker, CLI), GraphQL may build before the registry's hook.
    this.registry.resolveAll();
    this.built ??= new ResourceTypeRegistry(
      this.registry.all(),
      (target) => this.registry.forEntity(target),
      (row, relation, context) => (context as GraphqlContext).loaders.load(row, relation),
    );
    return this.built;
  }

  /** A request's relation loaders, scoped to its caller. */
  loadersFor(principal: Principal | undefined): RelationLoaders {
    // Prepared statements on a PostgreSQL server, as REST's includes (one shape per relation).
    this.reads ??= new PreparedStatements(this.dataSource);
    return new RelationLoaders(
      this.reads,
      {
        forEntity: (target) => this.registry.forEntity(target),
        ownerScope: (definition, who) => ownerScopeOf(definition, who, 'view'),
      },
      principal,
    );
  }

  /** @nestjs/graphql's `transformSchema`: the code-first schema plus the resources. */
  merge(code: GraphQLSchema): GraphQLSchema {
    const services = new Map<ResourceDefinition, ResourceService>();
    const deps: OperationDeps = {
      principalOf: (context) => (context as GraphqlContext).req.principal,
      serviceOf: (definition) => {
        let service = services.get(definition);
        if (!service) {
          const token = resourceServiceToken(this.registry.classOf(definition));
          service = this.moduleRef.get<ResourceService>(token, { strict: false });
          services.set(definition, service);
        }
        return service;
      },
      authorize: (definition, action, principal) =>
        authorizeResource(definition, action, principal, `GraphQL ${definition.name}`),
    };
    const all = this.types.all();
    const query = Object.assign({}, ...all.map((types) => resourceQueries(types, deps))) as ReturnType<
      typeof resourceQueries
    >;
    const mutation = Object.assign({}, ...all.map((types) => resourceMutations(types, deps))) as ReturnType<
      typeof resourceMutations
    >;
    const live: SubscriptionDeps = {
      authorize: (definition, action, principal) => deps.authorize(definition, action, principal),
      topic: (definition, kind) => this.live.topic(definition, kind),
      loadersFor: (principal) => this.loadersFor(principal),
    };
    const subscription = Object.assign(
      {},
      ...all.map((types) => resourceSubscriptions(types, live)),
    ) as ReturnType<typeof resourceSubscriptions>;
    const types = all.flatMap((t) => [t.object, t.connection]);
    return mergeSchemas(code, {
      types: [...types, PAGE_INFO, TRASHED_ENUM],
      query,
      mutation,
      subscription: subscription as GeneratedSchema['subscription'],
    });
  }
}
