import {
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLFieldConfigMap,
} from 'graphql';
import type { Principal } from 'src/framework/access/principal';
import { ProblemException, type ProblemFieldError } from 'src/framework/http/problem';
import { parseListQuery } from 'src/framework/resource/query/list-query-parser';
import type { ResourceAction } from 'src/framework/resource/resource.decorator';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import type { ListResult, ResourceService } from 'src/framework/resource/resource.service';
import { camel } from 'src/framework/graphql/graphql-scalars';
import { TRASHED_ENUM, type ResourceTypes } from 'src/framework/graphql/resource-types';

/** What the operations need from the server: the caller, each resource's service and the permission check. */
export interface OperationDeps {
  principalOf(context: unknown): Principal | undefined;
  serviceOf(definition: ResourceDefinition): ResourceService;
  /** Throws the 401/403 problem REST's guard would answer for this action. */
  authorize(definition: ResourceDefinition, action: ResourceAction, principal: Principal | undefined): void;
}

/** The root field names of a resource: `product`, `products`, `createProduct` … */
export function operationNames(definition: ResourceDefinition): Record<ResourceAction, string> {
  const name = definition.name;
  return {
    get: name.charAt(0).toLowerCase() + name.slice(1),
    list: camel(definition.path),
    create: `create${name}`,
    update: `update${name}`,
    delete: `delete${name}`,
    restore: `restore${name}`,
  };
}

type Args = Record<string, unknown>;

/** GraphQL's input objects have no prototype; the service validates plain JSON, as a REST body. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
}

/** An operand as the query language's text: lists comma-joined, as REST clients write them. */
function text(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => (typeof item === 'object' ? JSON.stringify(item) : String(item)));
  }
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * The list arguments as REST's raw query (`limit`, `after`, `sort`, `filter[path][op]`, `q`, `trashed`),
 * so `parseListQuery` checks them against the same allow-lists and types them the same way.
 */
function rawListQuery(types: ResourceTypes, args: Args): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  if (typeof args.first === 'number') {
    raw.limit = String(args.first);
  }
  if (typeof args.after === 'string') {
    raw.after = args.after;
  }
  if (Array.isArray(args.sort) && args.sort.length > 0) {
    raw.sort = (args.sort as string[]).join(',');
  }
  if (typeof args.search === 'string') {
    raw.q = args.search;
  }
  if (typeof args.trashed === 'string') {
    raw.trashed = args.trashed;
  }
  const filter = args.filter as Record<string, Record<string, unknown> | null> | undefined | null;
  if (filter) {
    raw.filter = {};
    for (const [key, operators] of Object.entries(filter)) {
      const path = types.filterNames.get(key)!;
      const ops: Record<string, unknown> = {};
      for (const [op, value] of Object.entries(operators ?? {})) {
        if (value !== null && value !== undefined) {
          ops[op] = text(value);
        }
      }
      (raw.filter as Record<string, unknown>)[path] = ops;
    }
  }
  return raw;
}

/** REST's parameter names in a 400 become the GraphQL argument paths: `filter[price][gte]` → `filter.price.gte`. */
function argumentPaths(error: unknown, types: ResourceTypes): unknown {
  if (!(error instanceof ProblemException) || !error.problem.errors) {
    return error;
  }
  const reverse = new Map([...types.filterNames].map(([key, path]) => [path, key]));
  const rename = (parameter: string): string => {
    const [head, ...rest] = parameter.replace(/\]/g, '').split('[');
    const renamed = { limit: 'first', q: 'search' }[head] ?? head;
    return [renamed, ...rest.map((part, i) => (i === 0 ? (reverse.get(part) ?? part) : part))].join('.');
  };
  const errors: ProblemFieldError[] = error.problem.errors.map((e) =>
    e.parameter ? { ...e, parameter: rename(e.parameter) } : e,
  );
  return new ProblemException({ ...error.problem, errors }, error.headers);
}

function connection(page: ListResult, after: unknown) {
  const cursors = page.cursors ?? [];
  return {
    edges: page.data.map((node, i) => ({ node, cursor: cursors[i] })),
    pageInfo: {
      hasNextPage: page.meta.nextCursor !== null,
      hasPreviousPage: typeof after === 'string',
      startCursor: cursors[0] ?? null,
      endCursor: cursors[cursors.length - 1] ?? null,
    },
    totalCount: page.meta.total,
  };
}

/** A 404 (missing, or a row the caller may not see) is `null`, GraphQL's "no such object". */
async function orNull<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ProblemException && error.problem.status === 404) {
      return null;
    }
    throw error;
  }
}

/** The query fields of one resource: `<single>(id)` and `<list>(first, after, filter, sort, search)`. */
export function resourceQueries(
  types: ResourceTypes,
  deps: OperationDeps,
): GraphQLFieldConfigMap<unknown, unknown> {
  const { definition } = types;
  const names = operationNames(definition);
  const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
  const trashed: GraphQLFieldConfigArgumentMap = definition.deleteDateColumn
    ? { trashed: { type: TRASHED_ENUM } }
    : {};
  if (definition.actions.has('get')) {
    fields[names.get] = {
      type: types.object,
      description: `One ${definition.name} by id (null when it does not exist or is not yours to see).`,
      args: { id: { type: new GraphQLNonNull(types.idType) }, ...trashed },
      resolve: async (_root, args: Args, context) => {
        const principal = deps.principalOf(context);
        deps.authorize(definition, 'get', principal);
        const service = deps.serviceOf(definition);
        return orNull(
          (async () => {
            const id = service.parseId(String(args.id));
            const options = { principal, trashed: args.trashed as 'only' | 'with' | undefined };
            return (await service.get(id, options)).row;
          })(),
        );
      },
    };
  }
  if (definition.actions.has('list')) {
    fields[names.list] = listField(types, deps, trashed);
  }
  return fields;
}

function listField(
  types: ResourceTypes,
  deps: OperationDeps,
  trashed: GraphQLFieldConfigArgumentMap,
): GraphQLFieldConfig<unknown, unknown> {
  const { definition } = types;
  const args: GraphQLFieldConfigArgumentMap = {
    first: {
      type: GraphQLInt,
      description: `Page size (default ${definition.query.defaultLimit}, larger than ${definition.query.maxLimit} is clamped).`,
    },
    after: { type: GraphQLString, description: 'The endCursor (or an edge cursor) of the page before.' },
    ...(types.filter ? { filter: { type: types.filter } } : {}),
    ...(types.sort ? { sort: { type: new GraphQLList(new GraphQLNonNull(types.sort)) } } : {}),
    ...(definition.query.searchable ? { search: { type: GraphQLString } } : {}),
    ...trashed,
  };
  return {
    type: new GraphQLNonNull(types.connection),
    extensions: { nestorList: { size: definition.query.defaultLimit, max: definition.query.maxLimit } },
    description: `${definition.name} rows as a Relay connection, with REST's filters, sorts and keyset cursors.`,
    args,
    resolve: async (_root, input: Args, context) => {
      const principal = deps.principalOf(context);
      deps.authorize(definition, 'list', principal);
      const raw = rawListQuery(types, input);
      let query;
      try {
        query = parseListQuery(raw, definition.query);
      } catch (error) {
        throw argumentPaths(error, types);
      }
      const page = await deps
        .serviceOf(definition)
        .list(query, { path: `graphql:${definition.path}`, query: raw, cursors: true }, principal);
      return connection(page, raw.after);
    },
  };
}

const IF_MATCH = {
  type: GraphQLString,
  description: 'The etag read before: a stale one is refused (PRECONDITION_FAILED) and nothing changes.',
};

type Write = (args: Args, principal?: Principal) => Promise<unknown>;

/** A resolver that checks the action as REST's guard would, then writes as the caller. */
function guarded(deps: OperationDeps, definition: ResourceDefinition) {
  return (action: ResourceAction, write: Write) => (_root: unknown, args: Args, context: unknown) => {
    const principal = deps.principalOf(context);
    deps.authorize(definition, action, principal);
    return write(args, principal);
  };
}

/** The mutation fields of one resource, for the actions it enables: the same service calls as REST's routes. */
export function resourceMutations(
  types: ResourceTypes,
  deps: OperationDeps,
): GraphQLFieldConfigMap<unknown, unknown> {
  const { definition } = types;
  const names = operationNames(definition);
  const service = () => deps.serviceOf(definition);
  const id = { type: new GraphQLNonNull(types.idType) };
  const row = new GraphQLNonNull(types.object);
  const parseId = (args: Args) => service().parseId(String(args.id));
  const ifMatch = (args: Args) => (typeof args.ifMatch === 'string' ? args.ifMatch : undefined);
  const input = (type?: GraphQLInputObjectType): GraphQLFieldConfigArgumentMap =>
    type ? { input: { type: new GraphQLNonNull(type) } } : {};
  const run = guarded(deps, definition);
  const all: Record<string, GraphQLFieldConfig<unknown, unknown>> = {
    create: {
      type: row,
      args: input(types.createInput),
      resolve: run('create', async (args, who) => (await service().create(plain(args.input) ?? {}, who)).row),
    },
    update: {
      type: row,
      args: { id, ...input(types.updateInput), ifMatch: IF_MATCH },
      resolve: run('update', async (args, who) => {
        const body = plain(args.input) ?? {};
        return (await service().update(parseId(args), body, ifMatch(args), who)).row;
      }),
    },
    delete: {
      type: new GraphQLNonNull(types.idType),
      description: `Deletes a ${definition.name}${definition.deleteDateColumn ? ' (a soft delete: restore brings it back)' : ''}; answers its id.`,
      args: { id, ifMatch: IF_MATCH },
      resolve: run('delete', async (args, who) => {
        await service().remove(parseId(args), ifMatch(args), who);
        return args.id;
      }),
    },
    restore: {
      type: row,
      args: { id },
      resolve: run('restore', async (args, who) => (await service().restore(parseId(args), who)).row),
    },
  };
  const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
  for (const action of ['create', 'update', 'delete', 'restore'] as const) {
    if (definition.actions.has(action)) {
      fields[names[action]] = all[action];
    }
  }
  return fields;
}
