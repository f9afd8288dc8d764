import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ApiKeyService } from 'src/framework/auth/api-key.service';
import { AUTH_REQUIREMENT, AuthRequirement } from 'src/framework/access/auth.decorators';
import { Principal, can } from 'src/framework/access/principal';
import { forbidden, unauthorized } from 'src/framework/access/problems';
import { SessionService } from 'src/framework/auth/session.service';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

/** The permission each generated route needs (Django's view/add/change/delete). */
export const ACTION_PERMISSION: Record<string, string> = {
  list: 'view',
  get: 'view',
  create: 'add',
  update: 'change',
  restore: 'change',
  delete: 'delete',
};

/**
 * Whether `principal` may run `action` on a resource, as its generated routes decide (and GraphQL's fields):
 * public actions, staff-only resources, the action's permission, or an owned resource (the service then
 * limits the caller to their own rows). Throws the 401 or 403 problem.
 * Example: `authorizeResource(registry.byPath('orders'), 'list', principal)`.
 */
export function authorizeResource(
  definition: ResourceDefinition,
  action: string,
  principal: Principal | undefined,
  where = `/api/${definition.path}`,
): void {
  const staffOnly = definition.options.staffOnly === true;
  if (!staffOnly && definition.publicActions.has(action as never)) {
    return;
  }
  if (!principal) {
    throw unauthorized();
  }
  if (staffOnly && !principal.isStaff && !principal.isSuperuser) {
    throw forbidden(`${where} is for staff only.`);
  }
  const permission = `${definition.path}.${ACTION_PERMISSION[action]}`;
  if (can(principal, permission) || definition.owner) {
    return; // owned resources: the service limits the caller to their own rows
  }
  throw forbidden(`This needs the ${permission} permission.`);
}

type AuthRequest = FastifyRequest & { principal?: Principal; user?: Principal };

/**
 * The global guard: authenticates `Authorization: Bearer <JWT or API key>` when present (a bad credential
 * is a 401 even on public routes), else the admin session cookie (unsafe requests need its CSRF token and a
 * same-site Origin; an unknown or expired cookie is simply anonymous), then enforces the route's requirement. Default deny: a route without
 * `@Public()` needs a signed-in caller; generated resource routes need their permission unless the action is
 * public, and owned resources let signed-in callers reach their own rows (the service scopes the queries).
 * Staff-only resources (`staffOnly`) refuse everyone but staff and superusers, public actions included.
 */
@Injectable()
export class NestorAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly registry: ResourceRegistry,
    private readonly apiKeys: ApiKeyService,
    private readonly sessions: SessionService,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType<string>() === 'graphql') {
      // A resolver of the GraphQL endpoint: the request was authenticated once, before the document ran
      // (GraphqlModule's context); its requirement is checked here like a route's.
      const request = context.getArgByIndex<{ req?: AuthRequest } | undefined>(2)?.req;
      return this.authorize(this.requirementOf(context), request?.principal);
    }
    if (context.getType() !== 'http') {
      return true;
    }
    const request = context.switchToHttp().getRequest<AuthRequest>();
    const header = request.headers.authorization;
    if (header !== undefined) {
      const [scheme, token] = header.split(' ');
      if (scheme?.toLowerCase() !== 'bearer' || !token) {
        throw unauthorized('Send Authorization: Bearer <token>.');
      }
      if (token.startsWith('nst_')) {
        request.principal = await this.apiKeys.authenticate(token);
      } else {
        await super.canActivate(context); // passport-jwt: throws 401 through handleRequest
        request.principal = request.user;
      }
    }
    const requirement = this.requirementOf(context);
    if (header === undefined && request.cookies?.[this.sessions.cookieName]) {
      // The admin panel's cookie: a browser sends it on its own, so unsafe requests must prove intent.
      const session = await this.sessions.resolve(request);
      if (session) {
        try {
          this.sessions.checkCsrf(request, session.csrfToken);
          request.principal = session.principal;
        } catch (error) {
          // A public route (the admin login itself) just runs anonymously, as a cross-site caller could.
          if (requirement.kind !== 'public') {
            throw error;
          }
        }
      }
    }
    return this.authorize(requirement, request.principal);
  }

  /** Per handler and class: decorators record requirements at boot, so each pair is looked up once. */
  private readonly requirements = new WeakMap<object, WeakMap<object, AuthRequirement>>();

  private requirementOf(context: ExecutionContext): AuthRequirement {
    const handler = context.getHandler();
    const classRef = context.getClass();
    let byClass = this.requirements.get(handler);
    let requirement = byClass?.get(classRef);
    if (!requirement) {
      requirement = this.reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, [
        handler,
        classRef,
      ]) ?? { kind: 'authenticated' };
      byClass ??= new WeakMap();
      byClass.set(classRef, requirement);
      this.requirements.set(handler, byClass);
    }
    return requirement;
  }

  override handleRequest<T>(error: unknown, user: T): T {
    // A token passport rejects arrives as `user: false` (→ 401). An `error` is the strategy failing to look
    // the user up (a problem it raised, or the database being down → 503 via the problem filter): telling
    // that caller their token is invalid would sign them out for an outage.
    if (error) {
      throw error instanceof Error ? error : unauthorized('The access token is invalid.');
    }
    if (!user) {
      throw unauthorized('The access token is invalid.');
    }
    return user;
  }

  private authorize(requirement: AuthRequirement, principal: Principal | undefined): boolean {
    switch (requirement.kind) {
      case 'public':
        return true;
      case 'authenticated':
        if (!principal) {
          throw unauthorized();
        }
        return true;
      case 'permission':
        if (!principal) {
          throw unauthorized();
        }
        if (!can(principal, requirement.permission)) {
          throw forbidden(`This needs the ${requirement.permission} permission.`);
        }
        return true;
      case 'resource':
        authorizeResource(this.registry.byPath(requirement.path), requirement.action, principal);
        return true;
    }
  }
}
