import { Body, CanActivate, Controller, HttpCode, Injectable, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  AccountMessageDto,
  ChangePasswordDto,
  EmailDto,
  OneTimeTokenDto,
  RegisterDto,
  ResetPasswordDto,
} from 'src/framework/auth/account.dto';
import type { FastifyRequest } from 'fastify';
import { AccountService, type SessionPrincipal } from 'src/framework/auth/account.service';
import { Authenticated, CurrentPrincipal, Public } from 'src/framework/access/auth.decorators';
import { ACCOUNT_THROTTLES, LoginThrottleService } from 'src/framework/auth/login-throttle.service';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { ApiInvalidBody } from 'src/framework/openapi/route-docs';
import { ProblemException } from 'src/framework/http/problem';

/** One answer for "registered" and "already registered", so the response never reveals an account. */
const REGISTERED: AccountMessageDto = {
  detail: 'Check your inbox: we sent a message to confirm the address.',
};
/** One answer for known and unknown addresses. */
const RESET_REQUESTED: AccountMessageDto = {
  detail: 'If an account uses this address, a password reset message is on its way.',
};
const VERIFIED: AccountMessageDto = { detail: 'Your email address is verified.' };
const VERIFICATION_SENT: AccountMessageDto = { detail: 'A new verification message is on its way.' };

/** AUTH_REGISTRATION=false closes registration; checked before the body, so a closed server says only that. */
@Injectable()
export class RegistrationOpenGuard implements CanActivate {
  constructor(private readonly config: NestorConfig) {}

  canActivate(): boolean {
    if (!this.config.registrationOpen) {
      throw new ProblemException({
        type: 'urn:nestor:problem:registration-closed',
        title: 'Forbidden',
        status: 403,
        detail: 'Registration is closed on this server.',
      });
    }
    return true;
  }
}

/** `/api/auth/*`: self-service accounts (registration, email verification, passwords). */
@ApiTags('auth')
@Controller('api/auth')
export class AccountController {
  constructor(
    private readonly accounts: AccountService,
    private readonly throttle: LoginThrottleService,
  ) {}

  @Public()
  @UseGuards(RegistrationOpenGuard)
  @Post('register')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'auth.register',
    summary: 'Create an account and mail a verification link',
    description:
      'Always 202 with the same body, also when the address already has an account (its owner gets a ' +
      'mail instead), so registration cannot be used to find out who has an account. Log in afterwards.',
  })
  @ApiAcceptedResponse({ type: AccountMessageDto })
  @ApiResponse({ status: 403, description: 'Registration is closed (AUTH_REGISTRATION=false)' })
  @ApiInvalidBody()
  @ApiResponse({
    status: 429,
    description: `More than ${ACCOUNT_THROTTLES.registerPerIp.limit} registrations from one client address within an hour (see Retry-After)`,
  })
  async register(@Body() body: RegisterDto, @Req() request: FastifyRequest): Promise<AccountMessageDto> {
    await this.throttle.limit([[ACCOUNT_THROTTLES.registerPerIp, request.ip]]);
    await this.accounts.register(body.email, body.password);
    return REGISTERED;
  }

  @Public()
  @Post('email/verify')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'auth.verifyEmail',
    summary: 'Confirm an email address with the mailed token',
    description:
      "The mail's link opens the page /auth/verify-email with the token in its fragment (#token=…), which " +
      'browsers do not send; the page posts it here. The token works once, for 48 hours.',
  })
  @ApiOkResponse({ type: AccountMessageDto })
  @ApiInvalidBody('Invalid, expired or already used token')
  async verifyEmail(@Body() body: OneTimeTokenDto): Promise<AccountMessageDto> {
    await this.accounts.verifyEmail(body.token);
    return VERIFIED;
  }

  @Authenticated()
  @Post('email/verify/resend')
  @HttpCode(202)
  @ApiBearerAuth()
  @ApiOperation({
    operationId: 'auth.resendVerification',
    summary: 'Mail a new verification link to the signed-in user',
    description: 'Earlier links stop working. Answers 409 once the address is verified.',
  })
  @ApiAcceptedResponse({ type: AccountMessageDto })
  @ApiResponse({ status: 401, description: 'Not signed in' })
  @ApiResponse({ status: 409, description: 'The address is already verified' })
  @ApiResponse({ status: 503, description: 'The mail server is unavailable' })
  async resendVerification(@CurrentPrincipal() principal: SessionPrincipal): Promise<AccountMessageDto> {
    await this.accounts.resendVerification(principal.userId);
    return VERIFICATION_SENT;
  }

  @Authenticated()
  @Post('password/change')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({
    operationId: 'auth.changePassword',
    summary: 'Change the password; signs out every other session',
    description:
      'Needs the current password. Every other session of the account ends (their refresh tokens are ' +
      'revoked); this one stays signed in. Not available to API keys.',
  })
  @ApiNoContentResponse({ description: 'Changed; this session stays signed in' })
  @ApiResponse({ status: 401, description: 'Not signed in' })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  @ApiInvalidBody('Wrong current password (/currentPassword) or too short new one')
  async changePassword(
    @CurrentPrincipal() principal: SessionPrincipal,
    @Body() body: ChangePasswordDto,
  ): Promise<void> {
    await this.accounts.changePassword(principal, body.currentPassword, body.newPassword);
  }

  @Public()
  @Post('password/forgot')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'auth.forgotPassword',
    summary: 'Mail a one-time password reset token (valid 1 hour)',
    description: 'Always 202 with the same body, whether or not an account uses the address.',
  })
  @ApiAcceptedResponse({ type: AccountMessageDto })
  @ApiInvalidBody('Not an email address')
  @ApiResponse({
    status: 429,
    description:
      `More than ${ACCOUNT_THROTTLES.forgotPerAccount.limit} requests for one address, or ` +
      `${ACCOUNT_THROTTLES.forgotPerIp.limit} from one client address, within an hour (see Retry-After); ` +
      'counted whether or not an account uses the address',
  })
  async forgotPassword(@Body() body: EmailDto, @Req() request: FastifyRequest): Promise<AccountMessageDto> {
    // Counted before anything looks at accounts, so known and unknown addresses are limited alike.
    await this.throttle.limit([
      [ACCOUNT_THROTTLES.forgotPerIp, request.ip],
      [ACCOUNT_THROTTLES.forgotPerAccount, body.email],
    ]);
    this.accounts.forgotPassword(body.email);
    return RESET_REQUESTED;
  }

  @Public()
  @Post('password/reset')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'auth.resetPassword',
    summary: 'Set a new password with the mailed token; signs out every session',
    description: 'The token comes from the mail of /api/auth/password/forgot, works once and for 1 hour.',
  })
  @ApiNoContentResponse({ description: 'Password set; log in with it' })
  @ApiInvalidBody('Invalid, expired or already used token (/token), or too short password')
  async resetPassword(@Body() body: ResetPasswordDto): Promise<void> {
    await this.accounts.resetPassword(body.token, body.password);
  }
}
