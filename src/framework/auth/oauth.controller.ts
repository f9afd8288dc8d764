import {
  applyDecorators,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Param,
  Query,
  Redirect,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { Authenticated, CurrentPrincipal, Public } from 'src/framework/access/auth.decorators';
import { Principal, loadPrincipal, requireSession } from 'src/framework/access/principal';
import { TokenPairDto } from 'src/framework/auth/auth.dto';
import { IdentityDto, OAuthAuthorizeQueryDto, OAuthProviderDto } from 'src/framework/auth/oauth.dto';
import { OAUTH_FLOW_TTL_SECONDS, OAUTH_PROBLEMS, OAuthService } from 'src/framework/auth/oauth.service';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { SessionService } from 'src/framework/auth/session.service';
import { TokenPair, TokenService } from 'src/framework/auth/token.service';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { ApiIdParam, ApiPathParam, INT32_MAX } from 'src/framework/openapi/route-docs';

/** The cookie binding a sign-in to the browser that started it (only its SHA-256 is stored). */
export const OAUTH_FLOW_COOKIE = 'nestor_oauth_flow';
const FLOW_COOKIE_PATH = '/api/auth/oauth';

const PROVIDER_PARAM = {
  description: 'A provider of OAUTH_PROVIDERS (GET /api/auth/oauth/providers lists them)',
  pattern: '^[a-z][a-z0-9]{0,39}$',
  example: 'google',
};

/** The `{provider}` path parameter, its 404, and the 503 when the provider is down (`why`). */
function ApiProvider(why: string): MethodDecorator {
  return applyDecorators(
    ApiPathParam('provider', PROVIDER_PARAM),
    ApiResponse({ status: 404, description: 'No such provider' }),
    ApiResponse({ status: 503, description: `urn:nestor:problem:oauth-provider-unavailable: ${why}` }),
  );
}

/** The admin's login page, where a refused admin sign-in returns with the problem's last word. */
const ADMIN_LOGIN = '/admin/login';

/**
 * `/api/auth/oauth/*` and `/api/auth/identities`: sign in with an OAuth 2 / OpenID Connect provider (the
 * callback answers tokens to API clients, or opens an admin session for staff), and the identities linked.
 */
@ApiTags('auth')
@Controller('api/auth')
export class OAuthController {
  constructor(
    private readonly oauth: OAuthService,
    private readonly tokens: TokenService,
    private readonly sessions: SessionService,
    private readonly events: SecurityEvents,
    private readonly config: NestorConfig,
    private readonly dataSource: DataSource,
  ) {}

  @Public()
  @Get('oauth/providers')
  @ApiOperation({
    operationId: 'auth.oauth.providers',
    summary: 'The providers you can sign in with',
    description:
      'From OAUTH_PROVIDERS; empty when none is configured. The admin login shows one button each.',
  })
  @ApiOkResponse({ type: [OAuthProviderDto] })
  providers(): OAuthProviderDto[] {
    return this.oauth.providers().map(({ name, label }) => ({
      name,
      label,
      authorizeUrl: `/api/auth/oauth/${name}/authorize`,
    }));
  }

  @Public()
  @Get('oauth/:provider/authorize')
  @Redirect()
  @Header('cache-control', 'no-store')
  @ApiOperation({
    operationId: 'auth.oauth.authorize',
    summary: 'Start signing in with a provider: a redirect to it',
    description:
      'Open it in the browser (not with fetch): it sets an httpOnly cookie binding the sign-in to this ' +
      `browser for ${OAUTH_FLOW_TTL_SECONDS / 60} minutes and redirects to the provider with PKCE, state ` +
      'and (OpenID Connect) nonce. The provider sends the browser back to the callback, registered at the ' +
      'provider as PUBLIC_URL/api/auth/oauth/{provider}/callback.',
  })
  @ApiProvider('its discovery document could not be read')
  @ApiResponse({ status: 302, description: "Redirect to the provider's authorization page" })
  @ApiResponse({ status: 400, description: 'Bad query parameters' })
  async authorize(
    @Param('provider') provider: string,
    @Query() query: OAuthAuthorizeQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ url: string; statusCode: number }> {
    const { authorizationUrl, flowCookie } = await this.oauth.start(provider, query.mode ?? 'api');
    void reply.setCookie(OAUTH_FLOW_COOKIE, flowCookie, {
      httpOnly: true,
      // Lax: the provider sends the browser back with a top-level GET from its own site.
      sameSite: 'lax',
      secure: this.config.nodeEnv === 'production',
      path: FLOW_COOKIE_PATH,
      maxAge: OAUTH_FLOW_TTL_SECONDS,
    });
    return { url: authorizationUrl.href, statusCode: 302 };
  }

  @Public()
  @Get('oauth/:provider/callback')
  @Header('cache-control', 'no-store') // a secret in the body: no cache may keep it (RFC 6749 §5.1)
  @ApiOperation({
    operationId: 'auth.oauth.callback',
    summary: "The provider's redirect back: access + refresh token (or an admin session)",
    description:
      'The provider calls it with `code` and `state` (or `error`). It works once, in the browser that ' +
      'started the sign-in. The user is the one linked to the provider account; else the account with the ' +
      'same email, if the provider says it is verified; else a new account. A sign-in started with ' +
      '`mode=admin` opens an admin session for staff and redirects to /admin/ (refusals redirect to ' +
      '/admin/login?oauth_error=<problem>).',
  })
  @ApiProvider('the provider is down; nothing was created')
  @ApiQuery({ name: 'code', required: false, schema: { type: 'string', maxLength: 2048 } })
  @ApiQuery({ name: 'state', required: false, schema: { type: 'string', maxLength: 256 } })
  @ApiQuery({ name: 'error', required: false, schema: { type: 'string', maxLength: 256 } })
  @ApiOkResponse({ type: TokenPairDto, description: 'Signed in (a sign-in started for the API)' })
  @ApiResponse({ status: 302, description: 'A sign-in started for the admin: back to the admin' })
  @ApiResponse({
    status: 400,
    description:
      'urn:nestor:problem:oauth-state-invalid (no sign-in in progress in this browser, already used, ' +
      'expired, or another state) or urn:nestor:problem:oauth-code-rejected (the provider refused the code)',
  })
  @ApiResponse({
    status: 401,
    description:
      'urn:nestor:problem:oauth-denied (the provider answered an error) or ' +
      'urn:nestor:problem:oauth-token-invalid (ID token signature, issuer, audience, expiry or nonce)',
  })
  @ApiResponse({
    status: 403,
    description:
      'urn:nestor:problem:oauth-email-unverified (nothing linked or created), ' +
      'urn:nestor:problem:oauth-sign-in-refused (inactive account, or one with 2FA) or ' +
      'urn:nestor:problem:registration-closed',
  })
  async callback(
    @Param('provider') provider: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenPair | undefined> {
    // The raw query, as the provider sent it: it may add parameters of its own (iss, scope, session_state).
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    void reply.clearCookie(OAUTH_FLOW_COOKIE, { path: FLOW_COOKIE_PATH });
    const flow = await this.oauth.takeFlow(provider, request.cookies?.[OAUTH_FLOW_COOKIE], query, request);
    if (flow.mode === 'api') {
      const { userId, email } = await this.oauth.complete(flow, query, request);
      this.events.record('login.succeeded', { userId, email, via: 'oauth', provider }, request);
      return this.tokens.issue(userId);
    }
    await this.adminCallback(flow, query, request, reply);
    return undefined;
  }

  /** A sign-in started for the admin: back to /admin/, or to its login page saying what went wrong. */
  private async adminCallback(
    flow: Awaited<ReturnType<OAuthService['takeFlow']>>,
    query: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    try {
      await this.signInToAdmin(flow, query, request, reply);
      void reply.redirect('/admin/', 302);
    } catch (error) {
      if (!(error instanceof ProblemException)) {
        throw error;
      }
      // A browser on its way to the admin: back to the login page, which says what went wrong.
      const type = String(error.problem.type).replace('urn:nestor:problem:', '');
      void reply.redirect(`${ADMIN_LOGIN}?oauth_error=${encodeURIComponent(type)}`, 302);
    }
  }

  /** An admin session for staff; others are refused before any session exists. */
  private async signInToAdmin(
    flow: Awaited<ReturnType<OAuthService['takeFlow']>>,
    query: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const { userId, email } = await this.oauth.complete(flow, query, request);
    // Checked before a session exists: a refused sign-in leaves none behind, not even a cookie.
    const principal = await loadPrincipal(this.dataSource, userId, 'session');
    const staff = principal !== undefined && (principal.isStaff || principal.isSuperuser);
    if (!staff || this.config.adminRequire2fa) {
      const reason = staff ? '2fa-required' : 'not-staff';
      this.events.record(
        'login.refused',
        { userId, email, via: 'admin', provider: flow.provider, reason },
        request,
      );
      throw new ProblemException({
        type: OAUTH_PROBLEMS.refused,
        title: 'Sign-in refused',
        status: 403,
        detail:
          reason === 'not-staff'
            ? 'The admin is for staff accounts.'
            : 'The admin needs two-factor authentication (ADMIN_REQUIRE_2FA): sign in with password and code.',
      });
    }
    await this.sessions.start(request, reply, userId);
    this.events.record('login.succeeded', { userId, email, via: 'admin', provider: flow.provider }, request);
  }

  @Authenticated()
  @Get('identities')
  @ApiBearerAuth()
  @ApiOperation({
    operationId: 'auth.identities.list',
    summary: 'The provider accounts linked to yours',
    description: 'Oldest first. An identity is linked when you first sign in with its provider.',
  })
  @ApiOkResponse({ type: [IdentityDto] })
  @ApiResponse({ status: 401, description: 'Not signed in' })
  identities(@CurrentPrincipal() principal: Principal): Promise<IdentityDto[]> {
    return this.oauth.identities(principal.userId);
  }

  @Authenticated()
  @Delete('identities/:id')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({
    operationId: 'auth.identities.unlink',
    summary: 'Unlink a provider account from yours',
    description:
      'You can no longer sign in with it (signing in with it again would link it again by its verified ' +
      'email). Refused when it is your only way to sign in: set a password first.',
  })
  @ApiIdParam('id', 'The id of one of your identities (from the list)')
  @ApiResponse({ status: 204, description: 'Unlinked' })
  @ApiResponse({ status: 401, description: 'Not signed in' })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  @ApiResponse({ status: 404, description: 'No such identity of yours' })
  @ApiResponse({
    status: 409,
    description: 'urn:nestor:problem:last-sign-in-method: no password and no other identity',
  })
  async unlink(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    requireSession(principal, 'Unlinking an identity');
    const identityId = /^\d{1,10}$/.test(id) ? Number(id) : NaN;
    if (!(identityId <= INT32_MAX)) {
      throw new ProblemException({
        type: PROBLEM_TYPES.notFound,
        title: 'Not Found',
        status: 404,
        detail: `You have no linked identity ${id}.`,
      });
    }
    await this.oauth.unlink(principal, identityId, request);
  }
}
