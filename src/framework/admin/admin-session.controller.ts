import { Body, Controller, Delete, Get, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AdminUserDto } from 'src/framework/admin/admin-api.dto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from 'src/framework/access/auth.decorators';
import { LoginDto } from 'src/framework/auth/auth.dto';
import { AuthService, normalizeEmail } from 'src/framework/auth/auth.service';
import { LoginThrottleService } from 'src/framework/auth/login-throttle.service';
import { forbidden, unauthorized } from 'src/framework/access/problems';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { SessionService, SessionState } from 'src/framework/auth/session.service';
import { TwoFactorService } from 'src/framework/auth/two-factor.service';
import { ApiInvalidBody } from 'src/framework/openapi/route-docs';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { ProblemException } from 'src/framework/http/problem';

/** The signed-in staff member and the CSRF token to send in `X-CSRF-Token` on unsafe requests. */
export class SessionDto {
  @ApiProperty({ type: AdminUserDto }) user!: AdminUserDto;
  @ApiProperty({
    description: 'Send it as X-CSRF-Token on every POST, PATCH and DELETE',
    pattern: '^[A-Za-z0-9_-]{43}$',
    maxLength: 43,
  })
  csrfToken!: string;
}

/** The admin login's 403 when ADMIN_REQUIRE_2FA is on and the account has no second factor yet. */
export const TWO_FACTOR_REQUIRED = 'urn:nestor:problem:2fa-required';

function toDto({ principal, csrfToken }: SessionState): SessionDto {
  const { userId: id, email, isStaff, isSuperuser } = principal;
  return { user: { id, email, isStaff, isSuperuser }, csrfToken };
}

/**
 * `/admin/api/session`: the admin panel's login. A staff member's password (and 2FA code) opens an httpOnly
 * cookie session; the same login throttle as the token login applies, and non-staff accounts are refused.
 */
@ApiTags('admin')
@Controller('admin/api/session')
export class AdminSessionController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionService,
    private readonly twoFactor: TwoFactorService,
    private readonly throttle: LoginThrottleService,
    private readonly events: SecurityEvents,
    private readonly config: NestorConfig,
  ) {}

  @Public()
  @Get()
  @Header('cache-control', 'no-store') // the CSRF token is in the body: no cache may keep it
  @ApiOperation({
    operationId: 'admin.session.get',
    summary: 'The current admin session',
    description: 'How the admin panel learns whether its session cookie is valid (and gets the CSRF token).',
  })
  @ApiOkResponse({ type: SessionDto })
  @ApiResponse({ status: 401, description: 'No session (or it expired)' })
  async current(@Req() request: FastifyRequest): Promise<SessionDto> {
    const session = await this.sessions.resolve(request);
    if (!session || !(session.principal.isStaff || session.principal.isSuperuser)) {
      throw unauthorized('No admin session: log in.');
    }
    return toDto(session);
  }

  @Public()
  @Post()
  @HttpCode(200)
  @Header('cache-control', 'no-store') // the CSRF token is in the body: no cache may keep it
  @ApiOperation({
    operationId: 'admin.session.login',
    summary: 'Log in to the admin (staff only)',
    description:
      'Sets an httpOnly session cookie for the admin panel; API clients log in at /api/auth/login instead. ' +
      'The same throttle as that login applies; a request from another site is refused.',
  })
  @ApiOkResponse({ type: SessionDto, description: 'Logged in; the session cookie is set' })
  @ApiResponse({
    status: 401,
    description: 'Invalid email or password; urn:nestor:problem:otp-required when the account needs its code',
  })
  @ApiResponse({
    status: 403,
    description:
      'Not a staff account, a cross-site request, or urn:nestor:problem:2fa-required (ADMIN_REQUIRE_2FA) without 2FA',
  })
  @ApiInvalidBody()
  @ApiResponse({ status: 429, description: 'Too many failed attempts (see Retry-After)' })
  async login(
    @Body() body: LoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SessionDto> {
    this.sessions.checkOrigin(request); // login CSRF: a foreign page must not log a browser in
    const userId = await this.throttle.attempt(body.email, request, () =>
      this.auth.authenticate(body.email, body.password, (id) => this.twoFactor.verifyLogin(id, body.otp)),
    );
    // Checked before a session exists: a refused login leaves none behind.
    if (this.config.adminRequire2fa && !(await this.twoFactor.status(userId)).enabled) {
      this.events.record(
        'login.refused',
        { userId, email: normalizeEmail(body.email), via: 'admin', reason: TWO_FACTOR_REQUIRED },
        request,
      );
      throw new ProblemException({
        type: TWO_FACTOR_REQUIRED,
        title: 'Two-factor authentication required',
        status: 403,
        detail:
          'The admin needs two-factor authentication (ADMIN_REQUIRE_2FA): log in at POST /api/auth/login, ' +
          'turn it on with POST /api/auth/2fa/setup and /api/auth/2fa/enable, then log in here again.',
      });
    }
    const session = await this.sessions.start(request, reply, userId);
    const email = session.principal.email;
    if (!session.principal.isStaff && !session.principal.isSuperuser) {
      await this.sessions.end(request, reply);
      await this.sessions.endAll(userId);
      this.events.record('login.refused', { userId, email, via: 'admin', reason: 'not-staff' }, request);
      throw forbidden('The admin is for staff accounts.');
    }
    this.events.record('login.succeeded', { userId, email, via: 'admin' }, request);
    return toDto(session);
  }

  @Public()
  @Delete()
  @HttpCode(204)
  @ApiOperation({
    operationId: 'admin.session.logout',
    summary: 'Log out of the admin',
    description: 'Ends the session of the cookie (if any) and clears the cookie.',
  })
  @ApiResponse({ status: 204, description: 'Logged out' })
  async logout(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.sessions.end(request, reply);
  }
}
