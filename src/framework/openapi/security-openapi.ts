import type { INestApplication, Type } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { DECORATORS, type OpenAPIObject } from '@nestjs/swagger';
import { THROTTLER_SKIP } from '@nestjs/throttler/dist/throttler.constants';
import { AUTH_REQUIREMENT, type AuthRequirement } from 'src/framework/access/auth.decorators';
import { StaffGuard } from 'src/framework/access/staff-only';

/** Security scheme names in `components.securitySchemes`. */
export const BEARER_SCHEME = 'bearer';
export const API_KEY_SCHEME = 'apiKey';

/** Either credential: an access JWT or an API key, both sent as `Authorization: Bearer …`. */
export function signedInSecurity(): Record<string, string[]>[] {
  return [{ [BEARER_SCHEME]: [] }, { [API_KEY_SCHEME]: [] }];
}

/** Public, but a credential is still checked when sent (a bad one is a 401). */
export function optionalSecurity(): Record<string, string[]>[] {
  return [{}, ...signedInSecurity()];
}

/** The scheme of API keys: HTTP bearer too, told apart from JWTs by their `nst_` start. */
export const API_KEY_SECURITY_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'nst_…',
  description:
    'An API key from `POST /api/auth/api-keys`, sent as `Authorization: Bearer nst_<prefix>_<secret>`. ' +
    "It acts for its owner with the key's permissions that the owner still holds.",
} as const;

export const BEARER_SECURITY_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description:
    'An access token from `POST /api/auth/login` or `/api/auth/refresh`: a JWT issued and checked as ' +
    'RFC8725 (JWT best current practices) asks: HS256 only (no `none`, no algorithm confusion), issuer and ' +
    'audience verified, expiry required and short (ACCESS_TOKEN_TTL, 15 minutes by default).',
} as const;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const PROBLEM_CONTENT = {
  'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
};

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;

/**
 * The auth requirement of every hand-written route, by the operationId Swagger gives it: the one of
 * `@ApiOperation`, else Swagger's default `<Controller>_<method>` (this app uses no URI versioning).
 */
/** A route's auth requirement, whether {@link StaffGuard} also guards it, and whether the request budget counts it. */
export type RouteRequirement = AuthRequirement & { staffOnly: boolean; rateLimited: boolean };

export function requirementsByOperationId(app: INestApplication): Map<string, RouteRequirement> {
  const discovery = app.get(DiscoveryService, { strict: false });
  const reflector = app.get(Reflector, { strict: false });
  const scanner = new MetadataScanner();
  const requirements = new Map<string, RouteRequirement>();
  for (const wrapper of discovery.getControllers()) {
    const { instance, metatype } = wrapper as { instance?: object; metatype?: Type | null };
    if (!instance || !metatype) {
      continue;
    }
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name] as (...args: unknown[]) => unknown;
      if (Reflect.getMetadata(METHOD_METADATA, handler) === undefined) {
        continue; // not a route
      }
      const operation = Reflect.getMetadata(DECORATORS.API_OPERATION, handler) as
        { operationId?: string } | undefined;
      const requirement = reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, [
        handler,
        metatype,
      ]) ?? { kind: 'authenticated' }; // the guard's default: deny anonymous callers
      const guards = [
        ...((Reflect.getMetadata(GUARDS_METADATA, metatype) as unknown[] | undefined) ?? []),
        ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []),
      ];
      requirements.set(operation?.operationId ?? `${metatype.name}_${name}`, {
        ...requirement,
        staffOnly: guards.includes(StaffGuard),
        rateLimited: !reflector.getAllAndOverride<boolean | undefined>(`${THROTTLER_SKIP}default`, [
          handler,
          metatype,
        ]),
      });
    }
  }
  return requirements;
}

/**
 * Shows every hand-written route's requirement, derived from its auth metadata like the guard does: public
 * routes say `security: []`; the others accept either credential (JWT or API key) and answer 401 without
 * one, and 403 when they need a permission. Resource routes keep what `addResource` wrote for them.
 * Example: `withSecurity(document, requirementsByOperationId(app))`.
 */
export function withSecurity(
  document: OpenAPIObject,
  requirements: Map<string, RouteRequirement>,
): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation: Operation | undefined = item[method];
      if (!operation) {
        continue;
      }
      const requirement: AuthRequirement = (operation.operationId
        ? requirements.get(operation.operationId)
        : undefined) ?? { kind: 'authenticated' };
      if (requirement.kind === 'resource') {
        continue;
      }
      if (requirement.kind === 'public') {
        operation.security = [];
        continue;
      }
      operation.security = signedInSecurity();
      operation.responses['401'] ??= {
        description: 'Authentication required, or an invalid credential',
        content: PROBLEM_CONTENT,
      };
      if (requirement.kind === 'permission') {
        operation.responses['403'] ??= {
          description: `Needs the ${requirement.permission} permission`,
          content: PROBLEM_CONTENT,
        };
      }
    }
  }
  return document;
}
