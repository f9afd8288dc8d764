import { Body, Controller, Get, Header, HttpCode, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { Authenticated, CurrentPrincipal, Public } from 'src/framework/access/auth.decorators';
import { LoginDto, MeDto, RefreshDto, TokenPairDto } from 'src/framework/auth/auth.dto';
import { AuthService, normalizeEmail } from 'src/framework/auth/auth.service';
import { LoginThrottleService } from 'src/framework/auth/login-throttle.service';
import { ApiInvalidBody } from 'src/framework/openapi/route-docs';
import type { Principal } from 'src/framework/access/principal';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { TokenPair, TokenService } from 'src/framework/auth/token.service';
import { TwoFactorService } from 'src/framework/auth/two-factor.service';

/** `/api/auth/*`: tokens for API clients. */
@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokenService,
    private readonly dataSource: DataSource,
    private readonly twoFactor: TwoFactorService,
    private readonly throttle: LoginThrottleService,
    private readonly events: SecurityEvents,
  ) {}

  @Public()
  @Post('login')
  @Header('cache-control', 'no-store') // a secret in the body: no cache may keep it (RFC 6749 §5.1)
  @HttpCode(200)
  @ApiOperation({
    operationId: 'auth.login',
    summary: 'Log in with email and password: access + refresh token',
    description:
      'Send the access token as `Authorization: Bearer …` (it lives ACCESS_TOKEN_TTL, 15 minutes by ' +
      'default); exchange the refresh token at /api/auth/refresh. Accounts with 2FA also send `otp`. After ' +
      '10 failures in 3 minutes for one account or one client address, login answers 429.',
  })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiInvalidBody()
  @ApiResponse({
    status: 401,
    description:
      'Invalid email or password; for 2FA accounts (after a correct password) the problem type is ' +
      'urn:nestor:problem:otp-required (send otp) or urn:nestor:problem:otp-invalid',
  })
  @ApiResponse({
    status: 403,
    description:
      'urn:nestor:problem:password-breached: the password is right but common or breached; set a new one (password/forgot)',
  })
  @ApiResponse({
    status: 429,
    description: 'Too many failed attempts for the account or the client address (see Retry-After)',
  })
  async login(@Body() body: LoginDto, @Req() request: FastifyRequest): Promise<TokenPair> {
    // 10 failures in 3 minutes per account and per address → 429, checked before the password.
    const userId = await this.throttle.attempt(body.email, request, () =>
      this.auth.authenticate(body.email, body.password, (id) => this.twoFactor.verifyLogin(id, body.otp)),
    );
    this.events.record('login.succeeded', { userId, email: normalizeEmail(body.email), via: 'api' }, request);
    return this.tokens.issue(userId);
  }

  @Public()
  @Post('refresh')
  @Header('cache-control', 'no-store') // a secret in the body: no cache may keep it (RFC 6749 §5.1)
  @HttpCode(200)
  @ApiOperation({
    operationId: 'auth.refresh',
    summary: 'Rotate a refresh token: a new pair; reusing a rotated token revokes the session',
    description:
      'Each refresh token works once: the answer carries a new access token and a new refresh token. ' +
      'Presenting a refresh token that was already used ends the whole session (every token of its family).',
  })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiInvalidBody('Not a refresh token')
  @ApiResponse({ status: 401, description: 'Invalid, expired, revoked or reused refresh token' })
  refresh(@Body() body: RefreshDto): Promise<TokenPair> {
    return this.tokens.rotate(body.refreshToken);
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'auth.logout',
    summary: 'End the session of a refresh token',
    description:
      'Revokes the refresh token and every token rotated from it; the access tokens of that session answer ' +
      '401 from now on. GET /api/auth/sessions lists your other sessions, to end them too.',
  })
  @ApiResponse({ status: 204, description: 'Logged out (also when the token was already invalid)' })
  @ApiInvalidBody('Not a refresh token')
  async logout(@Body() body: RefreshDto): Promise<void> {
    const family = await this.tokens.familyOf(body.refreshToken);
    if (family) {
      await this.tokens.revokeFamily(family);
    }
  }

  @Authenticated()
  @Get('me')
  @ApiBearerAuth()
  @ApiOperation({
    operationId: 'auth.me',
    summary: 'The signed-in user and their permissions',
    description: 'For an API key: its owner, with the permissions the key may use.',
  })
  @ApiOkResponse({ type: MeDto })
  @ApiResponse({ status: 401, description: 'Not signed in' })
  async me(@CurrentPrincipal() principal: Principal): Promise<MeDto> {
    const [user] = await this.dataSource.query<{ emailVerified: boolean }[]>(
      'SELECT "emailVerified" FROM "user" WHERE id = $1',
      [principal.userId],
    );
    return {
      id: principal.userId,
      email: principal.email,
      isStaff: principal.isStaff,
      isSuperuser: principal.isSuperuser,
      emailVerified: user.emailVerified,
      permissions: [...principal.permissions].sort(),
    };
  }
}
