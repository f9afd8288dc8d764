import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { Principal, loadPrincipal } from 'src/framework/access/principal';
import { forbidden } from 'src/framework/access/problems';
import { sha256 } from 'src/framework/auth/token.service';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { sessionCookieName } from 'src/framework/http/session-cookie';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A signed-in admin session: who, and the CSRF token its unsafe requests must send. */
export interface SessionState {
  principal: Principal;
  csrfToken: string;
}

/**
 * Cookie sessions for the admin panel, stored hashed in `admin_session` (any API process can serve them).
 * The guard resolves them like a bearer token; unsafe requests on a session must also pass `checkCsrf`.
 * Example: `const state = await sessions.start(reply, userId)`.
 */
@Injectable()
export class SessionService {
  /** `nestor_session`, or `__Host-nestor_session` in production. */
  readonly cookieName: string;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: NestorConfig,
  ) {
    this.cookieName = sessionCookieName(config);
  }

  /** Opens a new session (a fresh id every login, so a planted cookie is useless) and sets its cookie. */
  async start(request: FastifyRequest, reply: FastifyReply, userId: number): Promise<SessionState> {
    await this.end(request, reply); // the session id changes at login
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const { idleTimeout, maxAge } = this.config.adminSession;
    // expiresAt slides with use (resolve) up to createdAt + maxAge; the cookie itself lasts maxAge.
    await this.dataSource.query(
      `INSERT INTO admin_session ("idHash", "userId", "csrfToken", "expiresAt")
       VALUES ($1, $2, $3, now() + make_interval(secs => LEAST($4::int, $5::int)))`,
      [sha256(id), userId, csrfToken, idleTimeout, maxAge],
    );
    void reply.setCookie(this.cookieName, id, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.nodeEnv === 'production',
      path: '/',
      maxAge,
    });
    const principal = await loadPrincipal(this.dataSource, userId, 'session');
    return { principal: principal!, csrfToken };
  }

  /**
   * The request's live session, or undefined (no cookie, unknown, idle too long, past its maximum age, or
   * the user is inactive). Each use moves its idle deadline on, never past login + maxAge.
   */
  async resolve(request: FastifyRequest): Promise<SessionState | undefined> {
    const id = request.cookies?.[this.cookieName];
    if (!id) {
      return undefined;
    }
    const { idleTimeout, maxAge } = this.config.adminSession;
    // Through a CTE: pg answers a bare UPDATE … RETURNING with [rows, rowCount], not with the rows.
    const [row] = await this.dataSource.query<{ userId: number; csrfToken: string }[]>(
      `WITH used AS (
         UPDATE admin_session SET "expiresAt" = LEAST(now() + make_interval(secs => $2),
                                                      "createdAt" + make_interval(secs => $3))
          WHERE "idHash" = $1 AND "expiresAt" > now() AND "createdAt" > now() - make_interval(secs => $3)
          RETURNING "userId", "csrfToken")
       SELECT "userId", "csrfToken" FROM used`,
      [sha256(id), idleTimeout, maxAge],
    );
    const principal = row && (await loadPrincipal(this.dataSource, row.userId, 'session'));
    return principal ? { principal, csrfToken: row.csrfToken } : undefined;
  }

  /** Deletes the request's session (if any) and clears its cookie. */
  async end(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const id = request.cookies?.[this.cookieName];
    if (id) {
      await this.dataSource.query('DELETE FROM admin_session WHERE "idHash" = $1 OR "expiresAt" < now()', [
        sha256(id),
      ]);
      void reply.clearCookie(this.cookieName, { path: '/', secure: this.config.nodeEnv === 'production' });
    }
  }

  /** Ends every session of a user (password change, deactivation). */
  async endAll(userId: number): Promise<void> {
    await this.dataSource.query('DELETE FROM admin_session WHERE "userId" = $1', [userId]);
  }

  /**
   * Cookie-authenticated unsafe requests must come from this site (Origin, else Referer, names this host)
   * and carry the session's CSRF token in `X-CSRF-Token`; anything else is a 403 before the handler runs.
   */
  checkCsrf(request: FastifyRequest, csrfToken: string | undefined): void {
    if (SAFE_METHODS.has(request.method)) {
      return;
    }
    this.checkOrigin(request);
    const sent = request.headers['x-csrf-token'];
    if (
      typeof sent !== 'string' ||
      !csrfToken ||
      sent.length !== csrfToken.length ||
      !timingSafeEqual(Buffer.from(sent), Buffer.from(csrfToken))
    ) {
      throw forbidden('CSRF check failed: send the session’s token in X-CSRF-Token.');
    }
  }

  /** An unsafe cross-site request (a foreign or missing Origin/Referer) is refused. */
  checkOrigin(request: FastifyRequest): void {
    const source = request.headers.origin ?? request.headers.referer;
    let host: string | undefined;
    try {
      host = source ? new URL(source).host : undefined;
    } catch {
      host = undefined;
    }
    if (!host || host !== request.host) {
      throw forbidden('CSRF check failed: the request does not come from this site (Origin).');
    }
  }
}
