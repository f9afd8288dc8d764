import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Req,
  Res,
  SetMetadata,
  Type,
} from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AUTH_REQUIREMENT } from 'src/framework/access/auth.decorators';
import type { Principal } from 'src/framework/access/principal';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { IdempotencyService } from 'src/framework/idempotency/idempotency.service';
import { parseListQuery } from 'src/framework/resource/query/list-query-parser';
import type { ListQuery } from 'src/framework/resource/query-types';
import { ResourceCache } from 'src/framework/resource/resource-cache';
import { IDEMPOTENT_ACTIONS, ResourceAction, ResourceRow } from 'src/framework/resource/resource.decorator';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import { routeHandlers, setVersionHeaders, versionInPath } from 'src/framework/resource/resource-versions';
import { jsonOf } from 'src/framework/resource/resource-rows';
import { type ListResult, ResourceService } from 'src/framework/resource/resource.service';

const RESOURCE_PATH = Symbol('nestor:resource-controller-path');

/**
 * Serves a generated controller under every API version: `api/<path>` (the default version) and
 * `api/v<n>/<path>` for each version served. Runs before Nest registers routes (ResourceCoreModule.configure),
 * once the versions are known; Nest's router then serves each path as usual. Nest's own URI versioning would
 * put the version before the controller's path (`/v2/api/products`).
 */
export function serveVersions(controller: unknown, registry: ResourceRegistry): void {
  const path = Reflect.getMetadata(RESOURCE_PATH, controller as object) as string | undefined;
  if (path === undefined) {
    return;
  }
  const versions = registry.versions;
  const paths = [`api/${path}`, ...versions.all.map((v) => `api/v${v}/${path}`)];
  Reflect.defineMetadata(PATH_METADATA, paths, controller as object);
  // A deprecated version's headers, set before the guards run (sendVersionHeaders).
  const definition = registry.byPath(path);
  const headersOf = (url: string) =>
    versions.view(definition, versionInPath(url) ?? versions.defaultVersion).headers;
  for (const { handler } of routeHandlers(controller as Type)) {
    setVersionHeaders(handler, headersOf);
  }
}

/**
 * Query parameters `GET /:id` accepts (`trashed` with soft delete); the list language's others make no
 * sense for one row.
 */
const GET_PARAMETERS = ['fields', 'include'];
const GET_PARAMETERS_TRASHED = [...GET_PARAMETERS, 'trashed'];

/**
 * The media type of an answer to `fields=`: the same JSON, but its rows hold only the fields asked for, so
 * it has a schema of its own in OpenAPI and typed clients keep full row types for `application/json`.
 */
export const SPARSE_MEDIA_TYPE = 'application/vnd.nestor.sparse+json';

/** The operationId of a generated route, e.g. `products.list`: stable, so generated clients keep working. */
export function operationId(path: string, action: ResourceAction): string {
  return `${path.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())}.${action}`;
}

const SUMMARIES: Record<ResourceAction, (name: string) => string> = {
  list: (name) => `List ${name} rows (filter, sort, paginate, include)`,
  get: (name) => `Get one ${name}`,
  create: (name) => `Create a ${name}`,
  update: (name) => `Update a ${name} (partial)`,
  delete: (name) => `Delete a ${name}`,
  restore: (name) => `Restore a soft-deleted ${name}`,
};

/** The caller, set by the auth guard (undefined when anonymous). */
function principalOf(request: FastifyRequest): Principal | undefined {
  return (request as FastifyRequest & { principal?: Principal }).principal;
}

function query(request: FastifyRequest): Record<string, unknown> {
  return (request.query ?? {}) as Record<string, unknown>;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Marks a `fields=` answer as sparse (see SPARSE_MEDIA_TYPE). */
function sparse(reply: FastifyReply, fields: readonly string[] | undefined): void {
  if (fields !== undefined) {
    void reply.type(`${SPARSE_MEDIA_TYPE}; charset=utf-8`);
  }
}

/** 400 for a query parameter a single row does not take. */
function refuseUnknownParameters(raw: Record<string, unknown>, accepted: string[], entityName: string): void {
  const unknown = Object.keys(raw).filter((key) => !accepted.includes(key));
  if (unknown.length > 0) {
    throw new ProblemException({
      type: PROBLEM_TYPES.badQuery,
      title: 'Bad request parameters',
      status: 400,
      detail: `Unknown query parameter ${unknown.join(', ')}; a single ${entityName} accepts ${accepted.join(', ')}.`,
      errors: unknown.map((parameter) => ({
        parameter,
        code: 'unknown',
        message: `${parameter} is not accepted here (accepted: ${accepted.join(', ')})`,
      })),
    });
  }
}

/** Whether a query has no parameter (as `Object.keys(raw).length === 0`, without the array). */
function isEmpty(raw: Record<string, unknown>): boolean {
  for (const key in raw) {
    if (Object.hasOwn(raw, key)) {
      return false;
    }
  }
  return true;
}

/** A parsed query whose object and arrays cannot change, so one parse can serve many requests. */
function frozen(parsed: ListQuery): ListQuery {
  for (const value of Object.values(parsed) as unknown[]) {
    if (Array.isArray(value)) {
      for (const item of value as unknown[]) {
        Object.freeze(item);
      }
      Object.freeze(value);
    }
  }
  return Object.freeze(parsed);
}

/** Whether `If-None-Match` names `etag` (weak or strong) or is `*`. */
function noneMatches(noneMatch: string | undefined, etag: string): boolean {
  return (
    !!noneMatch &&
    noneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')
  );
}

/** The handlers every resource's generated controller calls (each through a function of its own). */
class ResourceRoutes {
  /**
   * Whether `get` answers a row `etagOf` hashed (the generated service's own `get`/`readOne`): its
   * JSON is then sent as it was hashed instead of stringified again. A subclass may change the row after.
   */
  private readonly plainGet: boolean;
  /** The parse of an empty query, which every `GET /:id` without one shares (frozen: nothing may change it). */
  private emptyQuery?: ListQuery;
  /** Per route template: the API version it serves (its deprecation headers are sent by sendVersionHeaders). */
  private readonly routeVersions = new Map<string, string>();

  constructor(
    readonly service: ResourceService,
    readonly registry: ResourceRegistry,
    readonly cache: ResourceCache,
    readonly idempotency: IdempotencyService,
    private readonly entityName: string,
  ) {
    const base = ResourceService.prototype as unknown as Record<string, unknown>;
    const own = service as unknown as Record<string, unknown>;
    this.plainGet = own.get === base.get && own.readOne === base.readOne;
  }

  /** `Cache-Control` as the resource's `cache` option declares it (none without one). */
  private cacheControl(request: FastifyRequest, reply: FastifyReply): void {
    const value = this.cache.cacheControl(this.service.definition, principalOf(request));
    if (value) {
      void reply.header('cache-control', value);
    }
  }

  /** The API version the request reached (its deprecation headers are sent by sendVersionHeaders). */
  private version(request: FastifyRequest): string {
    const url = request.routeOptions.url ?? '';
    let version = this.routeVersions.get(url);
    if (version === undefined) {
      version = versionInPath(url) ?? this.registry.versions.defaultVersion;
      this.routeVersions.set(url, version);
    }
    return version;
  }

  private present(row: ResourceRow, version: string): ResourceRow {
    return this.registry.versions.present(row, this.service.definition, version);
  }

  /** Runs a write with the body as the field rules read it, its 422 pointing where the version's body does. */
  private async write(
    request: FastifyRequest,
    version: string,
    run: (body: unknown) => Promise<{ row: ResourceRow; etag: string }>,
  ): Promise<{ row: ResourceRow; etag: string }> {
    const { versions } = this.registry;
    const definition = this.service.definition;
    const body = versions.parse(request.body, definition, version);
    try {
      return await run(body);
    } catch (error) {
      throw versions.relocate(error, definition, version);
    }
  }

  async list(request: FastifyRequest, reply: FastifyReply): Promise<ListResult> {
    const version = this.version(request);
    const raw = query(request);
    const parsed = parseListQuery(raw, this.service.definition.query);
    sparse(reply, parsed.fields);
    const page = await this.service.list(
      parsed,
      { path: request.url.split('?')[0], query: raw, url: request.url },
      principalOf(request),
    );
    this.cacheControl(request, reply);
    if (!this.registry.versions.changesRows(version)) {
      return page;
    }
    return { ...page, data: page.data.map((row) => this.present(row, version)) };
  }

  /** `GET /:id`'s query: its few parameters only, parsed once for the many requests without any. */
  private getQuery(raw: Record<string, unknown>): ListQuery {
    const definition = this.service.definition;
    if (isEmpty(raw)) {
      this.emptyQuery ??= frozen(parseListQuery(raw, definition.query));
      return this.emptyQuery;
    }
    refuseUnknownParameters(
      raw,
      definition.deleteDateColumn ? GET_PARAMETERS_TRASHED : GET_PARAMETERS,
      this.entityName,
    );
    return parseListQuery(raw, definition.query);
  }

  async get(
    id: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<ResourceRow | string | undefined> {
    const version = this.version(request);
    const parsed = this.getQuery(query(request));
    const { row, etag } = await this.service.get(this.service.parseId(id), {
      fields: parsed.fields,
      // A service of the app's own may add to it: the shared empty query's array is frozen.
      include: parsed === this.emptyQuery ? [] : parsed.include,
      principal: principalOf(request),
      trashed: parsed.trashed,
    });
    void reply.header('etag', etag);
    sparse(reply, parsed.fields);
    this.cacheControl(request, reply);
    if (noneMatches(header(request, 'if-none-match'), etag)) {
      void reply.status(304);
      return undefined;
    }
    const presented = this.present(row, version);
    if (this.plainGet && presented === row && parsed.fields === undefined) {
      // The JSON Fastify would send (same content type), as etagOf stringified it.
      void reply.type('application/json; charset=utf-8');
      return jsonOf(row);
    }
    return presented;
  }

  async create(request: FastifyRequest, reply: FastifyReply): Promise<ResourceRow> {
    const version = this.version(request);
    const { row, etag } = await this.write(request, version, (body) =>
      this.service.create(body, principalOf(request)),
    );
    const id = row[this.service.definition.id.name];
    void reply.header('location', `${request.url.split('?')[0].replace(/\/$/, '')}/${String(id)}`);
    void reply.header('etag', etag);
    return this.present(row, version);
  }

  async update(id: string, request: FastifyRequest, reply: FastifyReply): Promise<ResourceRow> {
    const version = this.version(request);
    const { row, etag } = await this.write(request, version, (body) =>
      this.service.update(this.service.parseId(id), body, header(request, 'if-match'), principalOf(request)),
    );
    void reply.header('etag', etag);
    return this.present(row, version);
  }

  async delete(id: string, request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    await this.service.remove(this.service.parseId(id), header(request, 'if-match'), principalOf(request));
  }

  async restore(id: string, request: FastifyRequest, reply: FastifyReply): Promise<ResourceRow> {
    const version = this.version(request);
    const { row, etag } = await this.service.restore(this.service.parseId(id), principalOf(request));
    void reply.header('etag', etag);
    return this.present(row, version);
  }
}

const idParam = Param('id');

/**
 * Gives the controller of one resource its own handler for `method` (route metadata lives on the function,
 * so resources never share one) and applies its route, parameter, auth and OpenAPI decorators.
 */
function decorateRoute(
  controller: Type,
  route: { path: string; entityName: string; method: ResourceAction },
  decorators: MethodDecorator[],
  params: ParameterDecorator[],
): void {
  const { path, entityName, method } = route;
  const prototype = controller.prototype as Record<string, unknown>;
  const handlers = ResourceRoutes.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const handler = handlers[method];
  // Unsafe actions accept an Idempotency-Key. Every handler ends with (request, reply). runKeyed, not
  // IdempotencyInterceptor: a Nest interceptor costs an rxjs pipeline on every request, with a key or not.
  const run = IDEMPOTENT_ACTIONS.includes(method)
    ? function (this: ResourceRoutes, ...args: unknown[]) {
        // The handlers are async: each returns a promise.
        return this.idempotency.runKeyed(
          args.at(-2) as FastifyRequest,
          () => handler.apply(this, args) as Promise<unknown>,
        );
      }
    : function (this: ResourceRoutes, ...args: unknown[]) {
        return handler.apply(this, args);
      };
  Object.defineProperty(prototype, method, {
    value: run,
    writable: true,
    configurable: true,
  });
  const descriptor = Object.getOwnPropertyDescriptor(prototype, method)!;
  params.forEach((decorator, index) => decorator(prototype, method, index));
  // What a compiler would emit for `(id: string, request, reply)`: without it Nest warns at every boot that
  // the pipes cannot see the parameter types of these dynamically built handlers.
  Reflect.defineMetadata(
    'design:paramtypes',
    params.map((decorator) => (decorator === idParam ? String : Object)),
    prototype,
    method,
  );
  decorators.push(
    SetMetadata(AUTH_REQUIREMENT, { kind: 'resource', path, action: method }),
    ApiOperation({ operationId: operationId(path, method), summary: SUMMARIES[method](entityName) }),
  );
  for (const decorator of decorators) {
    decorator(prototype, method, descriptor);
  }
}

/**
 * Builds the controller class of one resource: the routes of its enabled actions under `/api/<path>`.
 * Routes read the raw request (the service validates it against the resource's allow-lists).
 */
export function createResourceController(
  serviceToken: symbol,
  entityName: string,
  path: string,
  actions: ReadonlySet<ResourceAction>,
): Type {
  class GeneratedResourceController extends ResourceRoutes {
    constructor(
      @Inject(serviceToken) service: ResourceService,
      @Inject(ResourceRegistry) registry: ResourceRegistry,
      @Inject(ResourceCache) cache: ResourceCache,
      @Inject(IdempotencyService) idempotency: IdempotencyService,
    ) {
      super(service, registry, cache, idempotency, entityName);
    }
  }
  const decorate = (method: ResourceAction, decorators: MethodDecorator[], params: ParameterDecorator[]) =>
    decorateRoute(GeneratedResourceController, { path, entityName, method }, decorators, params);
  const reply = Res({ passthrough: true });
  const routes: Record<ResourceAction, () => void> = {
    list: () => decorate('list', [Get()], [Req(), reply]),
    get: () => decorate('get', [Get(':id')], [idParam, Req(), reply]),
    create: () => decorate('create', [Post(), HttpCode(201)], [Req(), reply]),
    update: () => decorate('update', [Patch(':id')], [idParam, Req(), reply]),
    delete: () => decorate('delete', [Delete(':id'), HttpCode(204)], [idParam, Req(), reply]),
    restore: () => decorate('restore', [Post(':id/restore'), HttpCode(200)], [idParam, Req(), reply]),
  };
  for (const action of actions) {
    routes[action]();
  }
  Object.defineProperty(GeneratedResourceController, 'name', { value: `${entityName}ResourceController` });
  ApiTags(path)(GeneratedResourceController);
  Controller(`api/${path}`)(GeneratedResourceController);
  Reflect.defineMetadata(RESOURCE_PATH, path, GeneratedResourceController);
  return GeneratedResourceController;
}
