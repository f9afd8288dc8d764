import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from 'src/framework/access/principal';

/** What a route requires; routes without one require an authenticated caller (default deny). */
export type AuthRequirement =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'permission'; permission: string }
  | { kind: 'resource'; path: string; action: string };

export const AUTH_REQUIREMENT = 'nestor:auth-requirement';

/** Anyone may call the route, signed in or not. Example: `@Public() @Get('health')`. */
export const Public = (): MethodDecorator & ClassDecorator =>
  SetMetadata(AUTH_REQUIREMENT, { kind: 'public' });

/** Any signed-in, active user may call the route. Example: `@Authenticated() @Get('me')`. */
export const Authenticated = (): MethodDecorator & ClassDecorator =>
  SetMetadata(AUTH_REQUIREMENT, { kind: 'authenticated' });

/** The caller needs this permission (superusers have all). Example: `@RequirePermission('orders.change')`. */
export const RequirePermission = (permission: string): MethodDecorator & ClassDecorator =>
  SetMetadata(AUTH_REQUIREMENT, { kind: 'permission', permission });

/**
 * The request's principal (undefined when anonymous), in a route or a GraphQL resolver.
 * Example: `me(@CurrentPrincipal() who: Principal)`.
 */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal | undefined =>
    context.getType<string>() === 'graphql'
      ? context.getArgByIndex<{ req?: { principal?: Principal } } | undefined>(2)?.req?.principal
      : context.switchToHttp().getRequest<{ principal?: Principal }>().principal,
);
