import { DynamicModule, Module } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  GraphQLError,
  Kind,
  Location,
  NoSchemaIntrospectionCustomRule,
  type DocumentNode,
  type ValidationRule,
} from 'graphql';
import mercurius from 'mercurius';
import { Public } from 'src/framework/access/auth.decorators';
import { NestorAuthGuard } from 'src/framework/auth/auth.guard';
import { AuthModule } from 'src/framework/auth/auth.module';
import { RateLimitGuard } from 'src/framework/auth/rate-limit';
import { compileSchemasOnFirstUse } from 'src/framework/http/schemas-on-first-use';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { serveGraphiql } from 'src/framework/graphql/graphiql';
import { formatGraphqlErrors } from 'src/framework/graphql/graphql-errors';
import { complexityLimit, depthLimit, type ListSize } from 'src/framework/graphql/graphql-limits';
import { GraphqlContext, ResourceGraphqlSchema } from 'src/framework/graphql/resource-schema.service';
import { ViewerResolver } from 'src/framework/graphql/viewer.resolver';
import { LiveUpdates } from 'src/framework/graphql/live-updates';
import type { LiveContext } from 'src/framework/graphql/resource-subscriptions';
import { SessionService } from 'src/framework/auth/session.service';

/**
 * The GraphQL endpoint's HTTP request, as the guards see it: open to anyone (a bad credential is still a
 * 401); each field then checks its own resource action, as REST's routes do.
 */
@Public()
class GraphqlEndpoint {
  handle(): void {}
}

/**
 * @nestjs/mercurius's driver, with Mercurius registered in a Fastify context of its own: Mercurius sets an
 * error handler, which must answer the GraphQL routes only (REST's errors stay problem+json).
 */
class NestorMercuriusDriver extends MercuriusDriver {
  override start(options: MercuriusDriverConfig): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- Nest's extras, not Mercurius options
    const { plugins, hooks, graphiql, ...mercuriusOptions } = options;
    const app = this.httpAdapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Not awaited: loading a plugin now would make Fastify settle the REST routes' error handler before
    // Nest sets its own (after the init hooks); Fastify loads it with the rest at ready().
    void app.register(async (child) => {
      // Mercurius's two routes validate and serialize with JSON schemas: compiled on first use, not at boot.
      compileSchemasOnFirstUse(child);
      // Mercurius's own GraphiQL page loads React and GraphiQL from a CDN: ours is served from the app.
      if (graphiql) {
        await child.register((ide) => serveGraphiql(ide, options.path ?? '/graphql'));
      }
      await child.register(mercurius, { ...mercuriusOptions, graphiql: false } as never);
      child.graphql.addHook('preValidation', refuseNonDocument);
    });
    return Promise.resolve();
  }
}

/**
 * GraphQL over HTTP sends a query as GraphQL text. Mercurius also takes a query that fails to parse but
 * parses as JSON (`{"query": 5}`, `"null"`, a hand-made AST) for a document's AST, which graphql-js then
 * fails on with a TypeError (a 500). Only a document parsed from text carries graphql-js's Location.
 */
function refuseNonDocument(_schema: unknown, document: DocumentNode): void {
  const node = document as Partial<DocumentNode> | null;
  if (node?.kind !== Kind.DOCUMENT || !(node.loc instanceof Location)) {
    throw new GraphQLError('Syntax Error: the query is not a GraphQL document', {
      extensions: { code: 'GRAPHQL_PARSE_FAILED' },
    });
  }
}

/** A list field's size for the complexity limit: `first` (its maximum when a variable), else the default. */
const listSize: ListSize = (field, args) => {
  const list = field.extensions.nestorList as { size: number; max: number } | undefined;
  if (!list) {
    return 1;
  }
  if ('first' in args) {
    const first = args.first;
    return typeof first === 'number' ? Math.min(Math.max(first, 1), list.max) : list.max;
  }
  return list.size;
};

/** Documents a process keeps by hash for automatic persisted queries (least recently used go first). */
const PERSISTED_QUERIES_KEPT = 1000;

/** Requests whose credentials or budget were refused (see the context). */
const refused = new WeakSet<FastifyRequest>();

@Module({ providers: [ResourceGraphqlSchema, LiveUpdates], exports: [ResourceGraphqlSchema, LiveUpdates] })
class ResourceGraphqlSchemaModule {}

/** Who is calling, as REST's guard decides (a bad token is a 401), and their request budget (one request). */
async function admit(
  auth: NestorAuthGuard,
  budget: RateLimitGuard,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const host = new ExecutionContextHost(
    [request, reply],
    GraphqlEndpoint,
    GraphqlEndpoint.prototype.handle.bind(null),
  );
  host.setType('http');
  await auth.canActivate(host);
  await budget.canActivate(host);
}

/** A socket's request has no reply to write headers on: the budget's headers go nowhere. */
const SOCKET_REPLY = { header: () => SOCKET_REPLY } as unknown as FastifyReply;

/**
 * Live updates over WebSocket (graphql-ws's protocol, at the endpoint's path): each subscription
 * authenticates the socket's request with the headers of the upgrade or of `connection_init`'s payload
 * (`{ authorization: 'Bearer …' }`) and counts against the caller's budget. A browser's session cookie
 * counts only from this site (Origin), as a cross-site page could open the socket with it.
 */
function liveOptions(
  live: LiveUpdates,
  auth: NestorAuthGuard,
  budget: RateLimitGuard,
  sessions: SessionService,
): MercuriusDriverConfig['subscription'] {
  return {
    emitter: live.emitter,
    context: (_socket: unknown, request: FastifyRequest): Partial<LiveContext> => ({
      caller: async () => {
        const req = request as GraphqlContext['req'];
        req.principal = undefined;
        // connection_init's headers arrive as the client spelled them (GraphiQL: `Authorization`).
        for (const [name, value] of Object.entries(req.headers)) {
          req.headers[name.toLowerCase()] ??= value;
        }
        if (req.headers.authorization === undefined && req.cookies?.[sessions.cookieName]) {
          sessions.checkOrigin(req);
        }
        await admit(auth, budget, req, SOCKET_REPLY);
        return req.principal;
      },
    }),
  };
}

/** Mercurius's options from the configuration: path, IDE, introspection, limits, errors and the context. */
function mercuriusOptions(
  schema: ResourceGraphqlSchema,
  auth: NestorAuthGuard,
  budget: RateLimitGuard,
  config: NestorConfig,
  live: LiveUpdates,
  sessions: SessionService,
): MercuriusDriverConfig {
  const { path, ide, introspection, maxDepth, maxComplexity, persistedQueries } = config.graphql;
  const rules: ValidationRule[] = [depthLimit(maxDepth), complexityLimit(maxComplexity, listSize)];
  if (!introspection) {
    rules.push(NoSchemaIntrospectionCustomRule);
  }
  return {
    path,
    graphiql: ide,
    autoSchemaFile: true,
    sortSchema: true,
    transformSchema: (code) => schema.merge(code),
    validationRules: rules,
    allowBatchedQueries: false,
    // Apollo's automatic persisted queries: a repeated document travels as its hash (an LRU per process;
    // a process that has not seen it answers PERSISTED_QUERY_NOT_FOUND and the client sends it once).
    ...(persistedQueries === 'automatic'
      ? { persistedQueryProvider: mercurius.persistedQueryDefaults.automatic(PERSISTED_QUERIES_KEPT) }
      : {}),
    // A document run once is compiled (graphql-jit) from its second run on: lists resolve many fields.
    jit: 1,
    errorFormatter: formatGraphqlErrors,
    subscription: liveOptions(live, auth, budget, sessions),
    // Once per HTTP request, before the document runs: who is calling (the same guard as REST's routes,
    // so a bad token is a 401) and their request budget (one GraphQL request counts as one request).
    context: async (request: FastifyRequest, reply: FastifyReply): Promise<GraphqlContext> => {
      const req = request as GraphqlContext['req'];
      // Mercurius's error handler builds the context again to answer the error: the second time, the
      // refusal is already being answered (as a GraphQL error with its status and headers).
      if (!refused.has(request)) {
        try {
          await admit(auth, budget, request, reply);
        } catch (error) {
          refused.add(request);
          throw error;
        }
      }
      return { req, loaders: schema.loadersFor(req.principal) };
    },
  };
}

/**
 * The GraphQL endpoint built from the resources (docs/architecture.md §10): `@nestjs/graphql` code-first on
 * Mercurius at GRAPHQL_PATH, each resource's types, queries and mutations generated at boot, joined with
 * the app's own `@Resolver`s. Example: `NestorModule.forRoot` imports it unless GRAPHQL=off.
 */
@Module({})
export class GraphqlModule {
  static forRoot(): DynamicModule {
    return {
      module: GraphqlModule,
      imports: [
        ResourceGraphqlSchemaModule,
        GraphQLModule.forRootAsync<MercuriusDriverConfig>({
          driver: NestorMercuriusDriver,
          imports: [ResourceGraphqlSchemaModule, AuthModule],
          inject: [
            ResourceGraphqlSchema,
            NestorAuthGuard,
            RateLimitGuard,
            NestorConfig,
            LiveUpdates,
            SessionService,
          ],
          useFactory: mercuriusOptions,
        }),
      ],
      providers: [ViewerResolver],
      exports: [ResourceGraphqlSchemaModule],
    };
  }
}
