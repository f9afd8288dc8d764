import type { Type } from '@nestjs/common';
import { METHOD_METADATA } from '@nestjs/common/constants';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { ProblemException, ProblemFieldError } from 'src/framework/http/problem';
import { validationProblem } from 'src/framework/http/validation';
import type { ResourceDefinition } from 'src/framework/resource/definition/definition-types';
import type { FieldRepresentation, ResourceRow } from 'src/framework/resource/resource.decorator';

/** `/api/v2/products/:id` → `2`; an unversioned path (`/api/products`) → undefined, the default version. */
export function versionInPath(path: string): string | undefined {
  return /^\/api\/v([1-9][0-9]*)\//.exec(path)?.[1];
}

/**
 * The answer headers of a deprecated API version (empty when it is not): `Deprecation` (RFC 9745, a
 * Structured Field date, `@` and Unix seconds), `Sunset` (RFC 8594, an HTTP-date) and a `Link` to the
 * successor's path. Example: `deprecationHeaders({ deprecated, sunset }, '/api/v2/products')`.
 */
export function deprecationHeaders(
  spec: { deprecated?: Date; sunset?: Date } | undefined,
  successorPath: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (spec?.deprecated) {
    headers.deprecation = `@${Math.floor(spec.deprecated.getTime() / 1000)}`;
    if (spec.sunset) {
      headers.sunset = spec.sunset.toUTCString();
    }
    if (successorPath) {
      headers.link = `<${successorPath}>; rel="successor-version"`;
    }
  }
  return headers;
}

/** The answer headers of a route's registered path (`/api/v1/products/:id`); undefined or empty: none. */
export type VersionHeadersOf = (url: string) => Readonly<Record<string, string>> | undefined;

/** In a handler's Fastify route config (Nest's `@RouteConfig` metadata): its VersionHeadersOf. */
const VERSION_HEADERS = Symbol('nestor:version-headers');

/** A controller's route handlers (its own methods Nest routes), by method name. */
export function routeHandlers(controller: Type): { name: string; handler: object }[] {
  const prototype = controller.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(prototype)
    .map((name) => ({ name, handler: prototype[name] }))
    .filter(
      (h): h is { name: string; handler: object } =>
        typeof h.handler === 'function' && Reflect.hasMetadata(METHOD_METADATA, h.handler),
    );
}

/** Gives a route handler its deprecation headers, for sendVersionHeaders. Other route config is kept. */
export function setVersionHeaders(handler: object, headersOf: VersionHeadersOf): void {
  const config = {
    ...(Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as object | undefined),
    [VERSION_HEADERS]: headersOf,
  };
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, config, handler);
}

/**
 * Sends the deprecation headers of generated and `@ApiVersion` routes: a route-level `onRequest` hook on the
 * routes of deprecated versions only, so other routes do no work for it (a Nest interceptor cost about
 * 16 µs on every request). It runs before guards and pipes, so a refused or invalid request carries them too.
 * Must be added before the routes are (createNestorApp does). Example: `sendVersionHeaders(fastify)`.
 */
export function sendVersionHeaders(fastify: FastifyInstance): void {
  const hooks = new WeakMap<object, onRequestHookHandler>();
  fastify.addHook('onRoute', (route) => {
    const config = route.config as Record<symbol, VersionHeadersOf | undefined> | undefined;
    const headers = config?.[VERSION_HEADERS]?.(route.url);
    if (!headers || Object.keys(headers).length === 0) {
      return;
    }
    let hook = hooks.get(headers);
    if (!hook) {
      hook = (_request, reply, done) => {
        void reply.headers(headers);
        done();
      };
      hooks.set(headers, hook);
    }
    // Fastify routes HEAD with a copy of GET's options, hooks included: add it once.
    const own = [route.onRequest ?? []].flat();
    if (!own.includes(hook)) {
      route.onRequest = [...own, hook];
    }
  });
}

/** One route of a hand-written controller declared with `@ApiVersion`, resolved at boot. */
export interface VersionedRoute {
  /** Lower-case HTTP method, as OpenAPI writes it (`post`). */
  method: string;
  /** The route's path after `/api` (and after `/api/v<n>`), in OpenAPI's form: `/orders/{id}`. */
  path: string;
  /** The versions this handler serves, ascending. */
  versions: readonly string[];
  /** Per version served, the answer headers (a deprecated one's `Deprecation`, `Sunset`, `Link`). */
  headers: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** A resource in one API version: its fields' representations (cumulative) and its answers' headers. */
export interface ResourceVersionView {
  version: string;
  fields: ReadonlyMap<string, FieldRepresentation>;
  /** `Deprecation`, `Sunset` and the successor `Link` of a deprecated version; else empty. */
  headers: Readonly<Record<string, string>>;
}

/**
 * Every API version the app serves and how each resource looks in it: a version a resource does not
 * declare looks like its closest older one. Rows are stored and validated as the first version shows them;
 * a version's field representations map them on the way out and bodies on the way in.
 * Example: `versions.present(row, definition, '2')`.
 */
export class ApiVersions {
  /** Every version served, ascending: the default and every version a resource declares. */
  readonly all: readonly string[];
  private readonly views = new Map<ResourceDefinition, Map<string, ResourceVersionView>>();
  /** Versions in which some resource shows a field differently (others answer rows unchanged). */
  private readonly mapping = new Set<string>();

  constructor(
    definitions: readonly ResourceDefinition[],
    readonly defaultVersion: string,
    private readonly forEntity: (target: unknown) => ResourceDefinition | undefined,
    /** The routes of hand-written controllers declared with `@ApiVersion`, and so their versions. */
    readonly routes: readonly VersionedRoute[] = [],
  ) {
    const declared = [
      ...definitions.flatMap((d) => [...d.versions.keys()]),
      ...routes.flatMap((r) => r.versions),
    ];
    this.all = [...new Set([defaultVersion, ...declared])].sort((a, b) => +a - +b);
    for (const definition of definitions) {
      const views = new Map<string, ResourceVersionView>();
      for (const version of this.all) {
        const view = this.viewOf(definition, version);
        views.set(version, view);
        if (view.fields.size > 0) {
          this.mapping.add(version);
        }
      }
      this.views.set(definition, views);
    }
  }

  /** The successor of a version: the next one served, if any. */
  successor(version: string): string | undefined {
    return this.all.find((v) => +v > +version);
  }

  private viewOf(definition: ResourceDefinition, version: string): ResourceVersionView {
    const fields = new Map<string, FieldRepresentation>();
    for (const [declared, spec] of [...definition.versions].sort(([a], [b]) => +a - +b)) {
      if (+declared <= +version) {
        spec.fields.forEach((representation, name) => fields.set(name, representation));
      }
    }
    const own = definition.versions.get(version);
    const successor = this.successor(version);
    const headers = deprecationHeaders(own, successor && `/api/v${successor}/${definition.path}`);
    return { version, fields, headers };
  }

  /** How a resource looks in a version (the default when undefined). */
  view(definition: ResourceDefinition, version = this.defaultVersion): ResourceVersionView {
    return this.views.get(definition)!.get(version)!;
  }

  /** Whether `present` changes rows in `version` (else it answers each row itself). */
  changesRows(version = this.defaultVersion): boolean {
    return this.mapping.has(version);
  }

  /** A row as a version shows it, included related rows too. The row itself is not changed. */
  present(row: ResourceRow, definition: ResourceDefinition, version = this.defaultVersion): ResourceRow {
    if (!this.mapping.has(version)) {
      return row;
    }
    const out: ResourceRow = { ...row };
    for (const [name, representation] of this.view(definition, version).fields) {
      if (name in out) {
        out[name] = representation.read(out[name]);
      }
    }
    for (const [name, relation] of definition.relations) {
      const related = out[name];
      const target = related ? this.forEntity(relation.inverseEntityMetadata.target) : undefined;
      if (target) {
        out[name] = Array.isArray(related)
          ? related.map((r: ResourceRow) => this.present(r, target, version))
          : this.present(related as ResourceRow, target, version);
      }
    }
    return out;
  }

  /**
   * A body written in a version → the body as the field rules read it (422 naming `/price/currency` when a
   * representation refuses its value).
   */
  parse(body: unknown, definition: ResourceDefinition, version = this.defaultVersion): unknown {
    const fields = this.view(definition, version).fields;
    if (fields.size === 0 || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return body;
    }
    const out = { ...(body as Record<string, unknown>) };
    const errors: ProblemFieldError[] = [];
    for (const [name, representation] of fields) {
      if (!(name in out)) {
        continue;
      }
      const written = representation.write(out[name]);
      if ('errors' in written) {
        errors.push(...written.errors.map((e) => ({ ...e, pointer: `/${name}${e.pointer}` })));
      } else {
        out[name] = written.value;
      }
    }
    if (errors.length > 0) {
      throw validationProblem(errors);
    }
    return out;
  }

  /** A 422 from the field rules, its pointers moved to where the version's body holds each value. */
  relocate(error: unknown, definition: ResourceDefinition, version = this.defaultVersion): unknown {
    const fields = this.view(definition, version).fields;
    if (!(error instanceof ProblemException) || error.problem.status !== 422 || fields.size === 0) {
      return error;
    }
    const errors = error.problem.errors?.map((e) => {
      const representation = e.pointer && fields.get(e.pointer.slice(1));
      return representation ? { ...e, pointer: `${e.pointer!}${representation.pointer}` } : e;
    });
    return errors ? validationProblem(errors) : error;
  }
}

/**
 * Shows a decimal column (a string such as `"12.50"`) as `{ amount, currency }` with one fixed currency;
 * `amount` keeps the column's rules. Example: `versions: { 2: { fields: { price: asMoney('EUR') } } }`.
 */
export function asMoney(currency: string): FieldRepresentation {
  return {
    pointer: '/amount',
    schema: (field) => ({
      type: 'object',
      required: ['amount', 'currency'],
      properties: {
        amount: field,
        currency: { type: 'string', enum: [currency], description: 'ISO 4217 code', example: currency },
      },
      additionalProperties: false,
    }),
    read: (value) => (value === null || value === undefined ? value : { amount: value, currency }),
    write: (value) => {
      if (value === null) {
        return { value };
      }
      if (typeof value !== 'object' || Array.isArray(value)) {
        return { errors: [{ pointer: '', code: 'type', message: 'expected { "amount", "currency" }' }] };
      }
      const { amount, currency: given, ...extra } = value as Record<string, unknown>;
      const errors = [
        ...(given === currency
          ? []
          : [{ pointer: '/currency', code: 'isIn', message: `currency must be ${currency}` }]),
        ...(amount === undefined
          ? [{ pointer: '/amount', code: 'required', message: 'amount is required' }]
          : []),
        ...Object.keys(extra).map((key) => ({
          pointer: `/${key}`,
          code: 'unknown',
          message: `${key} is not an accepted field`,
        })),
      ];
      return errors.length > 0 ? { errors } : { value: amount };
    },
  };
}
