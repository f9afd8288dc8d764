import { GraphQLNonNull, type GraphQLFieldConfig, type GraphQLFieldConfigMap } from 'graphql';
import { withFilter, type SubscriptionContext } from 'mercurius';
import type { Principal } from 'src/framework/access/principal';
import { ownerScopeOf } from 'src/framework/resource/resource-rows';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { graphqlErrorOf } from 'src/framework/graphql/graphql-errors';
import type { LiveKind, LivePayload } from 'src/framework/graphql/live-updates';
import type { RelationLoaders } from 'src/framework/graphql/relation-loaders';
import { operationNames, type OperationDeps } from 'src/framework/graphql/resource-operations';
import type { ResourceTypes } from 'src/framework/graphql/resource-types';

/** A subscription's context (one per subscription, over its WebSocket): Mercurius's, plus Nestor's caller. */
export interface LiveContext {
  pubsub: SubscriptionContext;
  /** Authenticates the socket's request (its headers, or connection_init's): the caller, or a 401/403 problem. */
  caller(): Promise<Principal | undefined>;
  principal?: Principal;
  loaders?: RelationLoaders;
}

/** What the subscriptions need: the permission check, the topics and a caller's relation loaders. */
export interface SubscriptionDeps {
  authorize: OperationDeps['authorize'];
  topic(definition: ResourceDefinition, kind: LiveKind): string;
  loadersFor(principal: Principal | undefined): RelationLoaders;
}

type IdArgs = { id?: unknown };

/** Keys compare as text: an Int id argument and a bigint key (a string) name the same row. */
function sameKey(a: unknown, b: unknown): boolean {
  const text = (v: unknown) => (typeof v === 'number' || typeof v === 'bigint' ? String(v) : v);
  return a !== null && a !== undefined && text(a) === text(b);
}

/** Whether the caller may see this row: their own on an owned resource (unless they hold `view`). */
function visible(
  definition: ResourceDefinition,
  principal: Principal | undefined,
  payload: LivePayload,
): boolean {
  const scope = ownerScopeOf(definition, principal, 'view');
  return scope === undefined || sameKey(payload.owner, scope);
}

/**
 * The live updates of one resource: `productCreated`, `productUpdated(id)`, `productDeleted(id)`, each
 * answering the row (as it was, for a delete) with the resource's object type, nested relations included.
 * Subscribing needs the list action (401/403 as the `products` query); an owned resource sends each caller
 * their own rows only. Events come after COMMIT (ResourceEvents), from any process through Redis.
 */
export function resourceSubscriptions(
  types: ResourceTypes,
  deps: SubscriptionDeps,
): GraphQLFieldConfigMap<LivePayload, LiveContext> {
  const { definition } = types;
  const base = operationNames(definition).get;
  const field = (kind: LiveKind, byId: boolean): GraphQLFieldConfig<LivePayload, LiveContext> => ({
    type: new GraphQLNonNull(types.object),
    description: `Each ${definition.name} ${kind}, once its transaction has committed${byId ? ' (`id`: of one row only)' : ''}.`,
    args: byId ? { id: { type: types.idType } } : {},
    subscribe: withFilter<LivePayload, unknown, LiveContext, IdArgs>(
      async (_root, _args, context) => {
        try {
          context.principal = await context.caller();
          deps.authorize(definition, 'list', context.principal);
        } catch (error) {
          throw graphqlErrorOf(error);
        }
        return context.pubsub.subscribe(deps.topic(definition, kind));
      },
      (payload, args, context) =>
        visible(definition, context.principal, payload) &&
        (args.id === undefined || args.id === null || sameKey(payload.id, args.id)),
    ),
    resolve: (payload: LivePayload, _args: unknown, context: LiveContext) => {
      // Fresh loaders per event: a long-lived subscription must not answer from an older event's batch.
      context.loaders = deps.loadersFor(context.principal);
      return payload.row;
    },
  });
  // A read-only resource (audit entries, reports) is written by the framework or jobs, never by its service.
  const { actions } = definition;
  if (!actions.has('list') || !['create', 'update', 'delete'].some((a) => actions.has(a as never))) {
    return {};
  }
  return {
    [`${base}Created`]: field('created', false),
    [`${base}Updated`]: field('updated', true),
    [`${base}Deleted`]: field('deleted', true),
  };
}
