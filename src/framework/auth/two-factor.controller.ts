import { Body, Controller, Get, Header, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Authenticated, CurrentPrincipal } from 'src/framework/access/auth.decorators';
import { LoginThrottleService } from 'src/framework/auth/login-throttle.service';
import { type Principal, requireSession } from 'src/framework/access/principal';
import {
  DisableTwoFactorDto,
  EnableTwoFactorDto,
  RecoveryCodesDto,
  ReplaceRecoveryCodesDto,
  TwoFactorSetupDto,
  TwoFactorStatusDto,
} from 'src/framework/auth/two-factor.dto';
import { DataSource } from 'typeorm';
import { AccountService, type AccountChangeEvent } from 'src/framework/auth/account.service';
import { TwoFactorService, TwoFactorStatus } from 'src/framework/auth/two-factor.service';
import { ProblemException } from 'src/framework/http/problem';
import type { TwoFactorChange } from 'src/framework/mail/templates';
import { ApiInvalidBody } from 'src/framework/openapi/route-docs';

/** A wrong password or code on disable counts against the login throttle of the account. */
const wrongProof = (error: unknown): boolean =>
  error instanceof ProblemException && error.problem.status === 403;

/** `/api/auth/2fa/*`: TOTP two-factor authentication for the signed-in user (any user, staff included). */
@ApiTags('auth')
@ApiBearerAuth()
@Authenticated()
@ApiResponse({ status: 401, description: 'Not signed in' })
@Controller('api/auth/2fa')
export class TwoFactorController {
  constructor(
    private readonly twoFactor: TwoFactorService,
    private readonly throttle: LoginThrottleService,
    private readonly accounts: AccountService,
    private readonly dataSource: DataSource,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'auth.twoFactor.status',
    summary: 'Whether 2FA is on, and recovery codes left',
    description: 'For the signed-in user; `pending` while a setup waits for its first code.',
  })
  @ApiOkResponse({ type: TwoFactorStatusDto })
  status(@CurrentPrincipal() principal: Principal): Promise<TwoFactorStatus> {
    return this.twoFactor.status(principal.userId);
  }

  @Post('setup')
  @Header('cache-control', 'no-store') // a secret in the body: no cache may keep it
  @HttpCode(200)
  @ApiOperation({
    operationId: 'auth.twoFactor.setup',
    summary: 'Start 2FA: a new TOTP secret and otpauth URI, shown once; enable confirms it',
    description:
      'Show the URI as a QR code (or the secret) to the authenticator app, then send its current code to ' +
      '/api/auth/2fa/enable. Until then logins are unchanged; a new setup replaces an unconfirmed one.',
  })
  @ApiOkResponse({ type: TwoFactorSetupDto })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  @ApiResponse({ status: 409, description: '2FA is already enabled' })
  setup(@CurrentPrincipal() principal: Principal): Promise<TwoFactorSetupDto> {
    requireSession(principal, 'Managing two-factor authentication');
    return this.twoFactor.setup(principal.userId, principal.email);
  }

  @Post('enable')
  @Header('cache-control', 'no-store') // a secret in the body: no cache may keep it
  @HttpCode(200)
  @ApiOperation({
    operationId: 'auth.twoFactor.enable',
    summary: 'Turn 2FA on with a current code: 10 single-use recovery codes, shown once',
    description:
      'From now on login needs `otp`: a current code, or one of the recovery codes (each works once).',
  })
  @ApiOkResponse({ type: RecoveryCodesDto })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  @ApiResponse({ status: 409, description: 'Not set up, or already enabled' })
  @ApiInvalidBody('The code is not valid')
  async enable(
    @CurrentPrincipal() principal: Principal,
    @Body() body: EnableTwoFactorDto,
    @Req() request: FastifyRequest,
  ): Promise<RecoveryCodesDto> {
    requireSession(principal, 'Managing two-factor authentication');
    const codes = await this.twoFactor.enable(principal.userId, body.code);
    await this.changed(principal, '2fa.enabled', 'enabled', request);
    return codes;
  }

  @Post('recovery-codes')
  @Header('cache-control', 'no-store') // secrets in the body: no cache may keep them
  @HttpCode(200)
  @ApiOperation({
    operationId: 'auth.twoFactor.replaceRecoveryCodes',
    summary: 'A new set of 10 recovery codes, shown once; the earlier ones stop working',
    description:
      'Confirm with a current code or a recovery code. Wrong codes count against the login throttle of the ' +
      'account; the user is mailed that new codes were created.',
  })
  @ApiOkResponse({ type: RecoveryCodesDto })
  @ApiResponse({ status: 403, description: 'Wrong code, or called with an API key' })
  @ApiResponse({ status: 409, description: 'Two-factor authentication is off' })
  @ApiInvalidBody('Not a code')
  @ApiResponse({ status: 429, description: 'Too many failed attempts' })
  async replaceRecoveryCodes(
    @CurrentPrincipal() principal: Principal,
    @Body() body: ReplaceRecoveryCodesDto,
    @Req() request: FastifyRequest,
  ): Promise<RecoveryCodesDto> {
    requireSession(principal, 'Managing two-factor authentication');
    const codes = await this.throttle.attempt(
      principal.email,
      request,
      () => this.twoFactor.replaceRecoveryCodes(principal.userId, body.code),
      { countsAsFailure: wrongProof, event: '2fa-recovery-codes' },
    );
    await this.changed(principal, '2fa.recovery-codes-replaced', 'recovery-codes', request);
    return codes;
  }

  @Post('disable')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'auth.twoFactor.disable',
    summary: 'Turn 2FA off, confirmed with the password or a code (throttled like login)',
    description: 'Send `password` or `code`. Wrong proofs count against the login throttle of the account.',
  })
  @ApiNoContentResponse({ description: '2FA is off; secret and recovery codes are deleted' })
  @ApiResponse({ status: 403, description: 'Wrong password or code, or called with an API key' })
  @ApiInvalidBody('Neither password nor code sent')
  @ApiResponse({ status: 429, description: 'Too many failed attempts' })
  async disable(
    @CurrentPrincipal() principal: Principal,
    @Body() body: DisableTwoFactorDto,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    requireSession(principal, 'Managing two-factor authentication');
    await this.throttle.attempt(
      principal.email,
      request,
      () => this.twoFactor.disable(principal.userId, body),
      {
        countsAsFailure: wrongProof,
        event: '2fa-disable',
      },
    );
    await this.changed(principal, '2fa.disabled', 'disabled', request);
  }

  /** An account change: in the security log and audit history, and mailed to the user (ASVS V2.5.5). */
  private async changed(
    principal: Principal,
    event: Extract<AccountChangeEvent, `2fa.${string}`>,
    change: TwoFactorChange,
    request: FastifyRequest,
  ): Promise<void> {
    await this.accounts.recordAccountChange(
      this.dataSource.manager,
      event,
      principal.userId,
      principal,
      {},
      request,
    );
    this.accounts.notifyTwoFactorChanged(principal.email, change);
  }
}
