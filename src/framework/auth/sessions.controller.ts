import { Controller, Delete, Get, HttpCode, Param, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { SessionPrincipal } from 'src/framework/auth/account.service';
import { Authenticated, CurrentPrincipal } from 'src/framework/access/auth.decorators';
import { requireSession } from 'src/framework/access/principal';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { SessionService } from 'src/framework/auth/session.service';
import { sha256 } from 'src/framework/auth/token.service';
import { CurrentSession, UserSession, UserSessionsService } from 'src/framework/auth/user-sessions.service';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';

const SESSION_ID = {
  pattern: '^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{64})$',
  maxLength: 64,
};

/** One of the caller's live sessions. Nestor stores no user agent or address for sessions. */
export class UserSessionDto {
  @ApiProperty({
    ...SESSION_ID,
    description: 'End it with DELETE /api/auth/sessions/{id}',
    example: '0b9f4c52-7d1e-4b55-9a57-3c1f8e2d6a10',
  })
  id!: string;

  @ApiProperty({
    enum: ['token', 'admin'],
    description:
      '`token`: a login at /api/auth/login (its refresh token and access tokens); `admin`: an admin panel login',
  })
  kind!: 'token' | 'admin';

  @ApiProperty({ type: String, format: 'date-time', maxLength: 30, description: 'The login' })
  createdAt!: Date;

  @ApiProperty({
    type: String,
    format: 'date-time',
    maxLength: 30,
    description: '`token`: its last refresh (or the login); `admin`: its last request',
  })
  lastUsedAt!: Date;

  @ApiProperty({
    type: String,
    format: 'date-time',
    maxLength: 30,
    description: 'When it ends unless used (refreshed) again',
  })
  expiresAt!: Date;

  @ApiProperty({ description: 'The session this request was sent in' }) current!: boolean;
}

/** `/api/auth/sessions`: the signed-in user's sessions, to review and end one at once (ASVS V3.3.4). */
@ApiTags('auth')
@Authenticated()
@Controller('api/auth/sessions')
export class SessionsController {
  constructor(
    private readonly userSessions: UserSessionsService,
    private readonly cookies: SessionService,
    private readonly events: SecurityEvents,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'auth.sessions.list',
    summary: 'Your live sessions: API logins and admin panel logins',
    description:
      'Newest activity first; `current` marks the session of this request. Only a signed-in user (not an API key) may list them.',
  })
  @ApiOkResponse({ type: [UserSessionDto] })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  async list(
    @CurrentPrincipal() principal: SessionPrincipal,
    @Req() request: FastifyRequest,
  ): Promise<UserSession[]> {
    requireSession(principal, 'Listing sessions');
    return this.userSessions.list(principal.userId, this.currentOf(principal, request));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'auth.sessions.end',
    summary: 'End one of your sessions at once',
    description:
      'A `token` session: its refresh token and every access token of it answer 401 from now on. An `admin` ' +
      'session: its cookie signs in no more. Ending the current session is a logout.',
  })
  @ApiParam({
    name: 'id',
    description: 'The id of one of your sessions (from the list)',
    schema: { ...SESSION_ID, type: 'string', example: '0b9f4c52-7d1e-4b55-9a57-3c1f8e2d6a10' },
  })
  @ApiResponse({ status: 204, description: 'Ended' })
  @ApiResponse({ status: 403, description: 'Called with an API key' })
  @ApiResponse({ status: 404, description: 'No live session of yours with this id' })
  async end(
    @Param('id') id: string,
    @CurrentPrincipal() principal: SessionPrincipal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    requireSession(principal, 'Ending a session');
    const kind = await this.userSessions.end(principal.userId, id);
    if (!kind) {
      throw new ProblemException({
        type: PROBLEM_TYPES.notFound,
        title: 'Not Found',
        status: 404,
        detail: 'You have no live session with this id (GET /api/auth/sessions lists them).',
      });
    }
    this.events.record('session.ended', { userId: principal.userId, kind }, request);
  }

  private currentOf(principal: SessionPrincipal, request: FastifyRequest): CurrentSession {
    const cookie = request.cookies?.[this.cookies.cookieName];
    return principal.via === 'session' && cookie
      ? { adminIdHash: sha256(cookie) }
      : { family: principal.family };
  }
}
