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
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AUTH_REQUIREMENT } from 'src/framework/access/auth.decorators';
import type { Principal } from 'src/framework/access/principal';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { IdempotentRoute } from 'src/framework/idempotency/idempotency.interceptor';
import { parseListQuery } from 'src/framework/resource/query-parser';
import { ResourceCache } from 'src/framework/resource/resource-cache';
import { IDEMPOTENT_ACTIONS, ResourceAction, ResourceRow } from 'src/framework/resource/resource.decorator';
import type { ListResult, ResourceService } from 'src/framework/resource/resource.service';

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
  class GeneratedResourceController {
    constructor(
      @Inject(serviceToken) readonly service: ResourceService,
      @Inject(ResourceCache) readonly cache: ResourceCache,
    ) {}

    /** `Cache-Control` as the resource's `cache` option declares it (none without one). */
    cacheControl(request: FastifyRequest, reply: FastifyReply): void {
      const value = this.cache.cacheControl(this.service.definition, principalOf(request));
      if (value) {
        void reply.header('cache-control', value);
      }
    }

    async list(request: FastifyRequest, reply: FastifyReply): Promise<ListResult> {
      const raw = query(request);
      const parsed = parseListQuery(raw, this.service.definition.query);
      sparse(reply, parsed.fields);
      const page = await this.service.list(
        parsed,
        { path: request.url.split('?')[0], query: raw },
        principalOf(request),
      );
      this.cacheControl(request, reply);
      return page;
    }

    async get(id: string, request: FastifyRequest, reply: FastifyReply): Promise<ResourceRow | undefined> {
      const raw = query(request);
      const accepted = this.service.definition.deleteDateColumn ? GET_PARAMETERS_TRASHED : GET_PARAMETERS;
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
      const parsed = parseListQuery(raw, this.service.definition.query);
      const { row, etag } = await this.service.get(this.service.parseId(id), {
        fields: parsed.fields,
        include: parsed.include,
        principal: principalOf(request),
        trashed: parsed.trashed,
      });
      void reply.header('etag', etag);
      sparse(reply, parsed.fields);
      this.cacheControl(request, reply);
      const noneMatch = header(request, 'if-none-match');
      if (
        noneMatch &&
        noneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')
      ) {
        void reply.status(304);
        return undefined;
      }
      return row;
    }

    async create(request: FastifyRequest, reply: FastifyReply): Promise<ResourceRow> {
      const { row, etag } = await this.service.create(request.body, principalOf(request));
      const id = row[this.service.definition.id.name];
      void reply.header('location', `${request.url.split('?')[0].replace(/\/$/, '')}/${String(id)}`);
      void reply.header('etag', etag);
      return row;
    }

    async update(id: string, request: FastifyRequest, reply: FastifyReply): Promise<ResourceRow> {
      const { row, etag } = await this.service.update(
        this.service.parseId(id),
        request.body,
        header(request, 'if-match'),
        principalOf(request),
      );
      void reply.header('etag', etag);
      return row;
    }

    async delete(id: string, request: FastifyRequest): Promise<void> {
      await this.service.remove(this.service.parseId(id), header(request, 'if-match'), principalOf(request));
    }

    async restore(id: string, request: FastifyRequest, reply: FastifyReply): Promise<ResourceRow> {
      const { row, etag } = await this.service.restore(this.service.parseId(id), principalOf(request));
      void reply.header('etag', etag);
      return row;
    }
  }

  const prototype = GeneratedResourceController.prototype as unknown as Record<string, unknown>;
  const decorate = (
    method: ResourceAction,
    decorators: MethodDecorator[],
    params: ParameterDecorator[],
  ): void => {
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
    if (IDEMPOTENT_ACTIONS.includes(method)) {
      decorators.push(IdempotentRoute()); // unsafe actions accept an Idempotency-Key
    }
    decorators.push(
      SetMetadata(AUTH_REQUIREMENT, { kind: 'resource', path, action: method }),
      ApiOperation({ operationId: operationId(path, method), summary: SUMMARIES[method](entityName) }),
    );
    for (const decorator of decorators) {
      decorator(prototype, method, descriptor);
    }
  };
  const reply = Res({ passthrough: true });
  const idParam = Param('id');
  const routes: Record<ResourceAction, () => void> = {
    list: () => decorate('list', [Get()], [Req(), reply]),
    get: () => decorate('get', [Get(':id')], [idParam, Req(), reply]),
    create: () => decorate('create', [Post(), HttpCode(201)], [Req(), reply]),
    update: () => decorate('update', [Patch(':id')], [idParam, Req(), reply]),
    delete: () => decorate('delete', [Delete(':id'), HttpCode(204)], [idParam, Req()]),
    restore: () => decorate('restore', [Post(':id/restore'), HttpCode(200)], [idParam, Req(), reply]),
  };
  for (const action of actions) {
    routes[action]();
  }
  Object.defineProperty(GeneratedResourceController, 'name', { value: `${entityName}ResourceController` });
  ApiTags(path)(GeneratedResourceController);
  Controller(`api/${path}`)(GeneratedResourceController);
  return GeneratedResourceController;
}
