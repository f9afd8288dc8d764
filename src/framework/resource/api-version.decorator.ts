import { RequestMethod, SetMetadata, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ResourceDeclarationError } from 'src/framework/resource/definition/definition-types';
import { VERSION_RE, resolveDeprecation } from 'src/framework/resource/definition/resolve-versions';
import {
  type VersionedRoute,
  deprecationHeaders,
  routeHandlers,
  setVersionHeaders,
} from 'src/framework/resource/resource-versions';

/** One API version of a hand-written controller or handler: whether and when it is deprecated. */
export interface ApiVersionOptions {
  /** ISO date since which the version is deprecated (answers carry `Deprecation` and a successor `Link`). */
  deprecated?: string;
  /** ISO date after which the version may stop answering (`Sunset`); needs `deprecated`. */
  sunset?: string;
}

const API_VERSION = Symbol('nestor:api-version');
/** The paths a controller and its handlers were declared with, before versions rewrote them. */
const DECLARED_PATH = Symbol('nestor:declared-path');
/**
 * Serves a hand-written controller (on the class) or one handler (on the method; it wins over the class)
 * in the API versions named: at `/api/v<n>/…` for each, and at its own unversioned path when it serves the
 * default version (API_DEFAULT_VERSION). Two handlers of one route may serve different versions. A
 * deprecated version answers with `Deprecation`, `Sunset` and a `Link` to the handler's next version
 * (sendVersionHeaders), refused requests included;
 * each version's OpenAPI document shows the handler only if it serves that version. The controller's path
 * must start with `api/`. Bad declarations fail at boot with NST-R016.
 * Example:
 * ```ts
 * @ApiVersion({ 1: { deprecated: '2026-12-01', sunset: '2027-06-30' }, 2: {} })
 * @Controller('api/orders')
 * export class OrdersController {}
 * ```
 */
export function ApiVersion(versions: Record<string, ApiVersionOptions>): ClassDecorator & MethodDecorator {
  return SetMetadata(API_VERSION, versions);
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** The path a controller or handler was declared with (kept, since serving versions rewrites it). */
function declaredPaths(target: object): string[] {
  let declared = Reflect.getMetadata(DECLARED_PATH, target) as string[] | undefined;
  if (!declared) {
    const path = (Reflect.getMetadata(PATH_METADATA, target) as string | string[] | undefined) ?? '/';
    declared = (Array.isArray(path) ? path : [path]).map(trimSlashes);
    Reflect.defineMetadata(DECLARED_PATH, declared, target);
  }
  return declared;
}

/**
 * Resolves the `@ApiVersion` declarations of a controller and serves them: each versioned handler's path
 * becomes the full list of its paths (`api/orders`, `api/v2/orders`) under a root controller path. Runs
 * before Nest registers routes (ResourceCoreModule.configure); unversioned controllers are left unchanged.
 */
export function serveControllerVersions(controller: Type, defaultVersion: string): VersionedRoute[] {
  const onClass = Reflect.getMetadata(API_VERSION, controller) as
    Record<string, ApiVersionOptions> | undefined;
  const handlers = routeHandlers(controller);
  const declared = handlers.filter(({ handler }) => onClass ?? Reflect.hasMetadata(API_VERSION, handler));
  if (declared.length === 0) {
    return [];
  }
  const fail = (message: string): never => {
    throw new ResourceDeclarationError('NST-R016', `${controller.name}: @ApiVersion ${message}`);
  };
  const [base, ...others] = declaredPaths(controller);
  if (others.length > 0 || !/^api(\/|$)/.test(base) || /^api\/v\d+(\/|$)/.test(base)) {
    fail(`needs one controller path under "api/" without a version, like @Controller('api/orders')`);
  }
  const rest = base.replace(/^api\/?/, '');
  const routes: VersionedRoute[] = [];
  const served = new Map<string, string>();
  for (const { name, handler } of handlers) {
    const options = (Reflect.getMetadata(API_VERSION, handler) ?? onClass) as
      Record<string, ApiVersionOptions> | undefined;
    if (!options) {
      // An unversioned handler of a versioned controller keeps its one path.
      const paths = declaredPaths(handler).map((p) => [base, p].filter(Boolean).join('/'));
      Reflect.defineMetadata(PATH_METADATA, paths, handler);
      continue;
    }
    routes.push(...serveHandler({ name, handler, options, rest, defaultVersion, served, fail }));
  }
  Reflect.defineMetadata(PATH_METADATA, '/', controller);
  return routes;
}

/** Serves one handler's versions: sets its paths and deprecation headers, returns its routes. */
function serveHandler(declared: {
  name: string;
  handler: object;
  options: Record<string, ApiVersionOptions>;
  rest: string;
  defaultVersion: string;
  served: Map<string, string>;
  fail: (message: string) => never;
}): VersionedRoute[] {
  const { name, handler, options, rest, defaultVersion, served, fail } = declared;
  const routes: VersionedRoute[] = [];
  const versions = Object.keys(options).sort((a, b) => +a - +b);
  if (versions.length === 0) {
    fail(`on ${name}: name at least one version, like { 1: {}, 2: {} }`);
  }
  const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod].toLowerCase();
  const paths: string[] = [];
  const headersByPath = new Map<string, Record<string, string>>();
  for (const relative of declaredPaths(handler)) {
    const path = [rest, relative].filter(Boolean).join('/');
    const headers = new Map<string, Record<string, string>>();
    for (const [index, version] of versions.entries()) {
      const successor = versions[index + 1];
      const spec = checkHandlerVersion({ name, method, path, version, successor, options, served, fail });
      const sent = deprecationHeaders(spec, successor && `/api/v${successor}/${path}`);
      headers.set(version, sent);
      const at =
        version === defaultVersion ? [`api/v${version}/${path}`, `api/${path}`] : [`api/v${version}/${path}`];
      for (const p of at) {
        paths.push(p);
        headersByPath.set(`/${p}`, sent);
      }
    }
    routes.push({ method, path: `/${path}`.replace(/:([A-Za-z0-9_]+)/g, '{$1}'), versions, headers });
  }
  Reflect.defineMetadata(PATH_METADATA, paths, handler);
  setVersionHeaders(handler, (url) => headersByPath.get(url));
  return routes;
}

/** Checks one version of one handler's route and records it as served; returns its deprecation settings. */
function checkHandlerVersion(route: {
  name: string;
  method: string;
  path: string;
  version: string;
  successor: string | undefined;
  options: Record<string, ApiVersionOptions>;
  served: Map<string, string>;
  fail: (message: string) => never;
}): ReturnType<typeof resolveDeprecation> {
  const { name, method, path, version, successor, options, served, fail } = route;
  const at = (option = ''): string => `on ${name}: "${version}${option}"`;
  if (!VERSION_RE.test(version)) {
    fail(`${at()}: a version is a number like 1 or 2`);
  }
  const spec = resolveDeprecation(options[version] ?? {}, at, fail);
  if (spec.deprecated && !successor) {
    fail(`${at('.deprecated')}: no newer version of this handler to move to`);
  }
  const key = `${method} /${path} v${version}`;
  const other = served.get(key);
  if (other) {
    fail(
      `on ${name}: ${method.toUpperCase()} /api/${path} in version ${version} is already served by ${other}`,
    );
  }
  served.set(key, name);
  return spec;
}
