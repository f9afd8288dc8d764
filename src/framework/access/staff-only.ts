import { CanActivate, ExecutionContext, Injectable, UseGuards, applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { Authenticated } from 'src/framework/access/auth.decorators';
import type { Principal } from 'src/framework/access/principal';
import { forbidden } from 'src/framework/access/problems';

/** Lets staff and superusers through; the global guard has already answered 401 to anonymous callers. */
@Injectable()
export class StaffGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const principal = context.switchToHttp().getRequest<{ principal?: Principal }>().principal;
    if (!principal?.isStaff && !principal?.isSuperuser) {
      throw forbidden('This is for staff only.');
    }
    return true;
  }
}

/**
 * Staff and superusers only (anonymous → 401, other users → 403), documented in OpenAPI.
 * Example: `@StaffOnly() @Controller('admin/api/jobs')`.
 */
export const StaffOnly = (): MethodDecorator & ClassDecorator =>
  applyDecorators(
    Authenticated(),
    UseGuards(StaffGuard),
    ApiResponse({ status: 403, description: 'For staff and superusers only' }),
  );
