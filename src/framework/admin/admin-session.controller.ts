import { Body, Controller, Delete, Get, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from 'src/framework/auth/auth.decorators';
import { LoginDto } from 'src/framework/auth/auth.dto';
import { AuthService } from 'src/framework/auth/auth.service';
import { LoginThrottleService } from 'src/framework/auth/login-throttle.service';
import { forbidden, unauthorized } from 'src/framework/auth/problems';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { SessionService, SessionState } from 'src/framework/auth/session.service';
import { TwoFactorService } from 'src/framework/auth/two-factor.service';

class SessionUserDto {
  @ApiProperty() id!: number;
  @ApiProperty() email!: string;
  @ApiProperty() isStaff!: boolean;
  @ApiProperty() isSuperuser!: boolean;
}

/** The signed-in staff member and the CSRF token to send in `X-CSRF-Token` on unsafe requests. */
export class SessionDto {
  @ApiProperty({ type: SessionUserDto }) user!: SessionUserDto;
  @ApiProperty({ description: 'Send it as X-CSRF-Token on every POST, PATCH and DELETE' })
  csrfToken!: string;
}

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
  ) {}

  @Public()
  @Get()
  @Header('cache-control', 'no-store') // the CSRF token is in the body: no cache may keep it
  @ApiOperation({ operationId: 'admin.session.get', summary: 'The current admin session' })
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
  @ApiOperation({ operationId: 'admin.session.login', summary: 'Log in to the admin (staff only)' })
  @ApiOkResponse({ type: SessionDto, description: 'Logged in; the session cookie is set' })
  @ApiResponse({
    status: 401,
    description: 'Invalid email or password; urn:nestor:problem:otp-required when the account needs its code',
  })
  @ApiResponse({ status: 403, description: 'Not a staff account, or a cross-site request' })
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
  @ApiOperation({ operationId: 'admin.session.logout', summary: 'Log out of the admin' })
  @ApiResponse({ status: 204, description: 'Logged out' })
  async logout(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.sessions.end(request, reply);
  }
}
