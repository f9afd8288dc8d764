import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';

/** A refresh-token family (`token`: an API client's login) or an admin cookie session (`admin`). */
export type UserSessionKind = 'token' | 'admin';

/** One live session of a user, as `GET /api/auth/sessions` lists it. */
export interface UserSession {
  id: string;
  kind: UserSessionKind;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  current: boolean;
}

/** Which session the request itself runs in: its access token's family, or its admin cookie's hash. */
export interface CurrentSession {
  family?: string;
  adminIdHash?: string;
}

const FAMILY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ADMIN_ID = /^[0-9a-f]{64}$/;
/**
 * An admin session's public id: the SHA-256 of its stored hash, so the list never shows the primary key
 * (the hash of the cookie), and what the user sees cannot be looked up as a cookie.
 */
const ADMIN_PUBLIC_ID = `encode(sha256(convert_to("idHash", 'UTF8')), 'hex')`;

/**
 * The sessions a user can see and end (ASVS V3.3.4): live refresh-token families and admin cookie sessions.
 * Ending a family ends its access tokens at once (they are checked against it on every request).
 * Example: `await sessions.end(principal.userId, id)`.
 */
@Injectable()
export class UserSessionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: NestorConfig,
  ) {}

  /** Newest first. A token session was last used at its last refresh; the admin's at its last request. */
  async list(userId: number, current: CurrentSession): Promise<UserSession[]> {
    const { idleTimeout, maxAge } = this.config.adminSession;
    const rows = await this.dataSource.query<(Omit<UserSession, 'current'> & { isCurrent: boolean })[]>(
      `SELECT family::text AS id, 'token' AS kind, min("createdAt") AS "createdAt",
              max("createdAt") AS "lastUsedAt", max("expiresAt") AS "expiresAt",
              family::text = $2 AS "isCurrent"
         FROM refresh_token WHERE "userId" = $1
        GROUP BY family
       HAVING bool_and("revokedAt" IS NULL) AND bool_or("usedAt" IS NULL AND "expiresAt" > now())
       UNION ALL
       -- The idle deadline slides to (last request + idle timeout), capped at login + maximum age.
       SELECT ${ADMIN_PUBLIC_ID}, 'admin', "createdAt",
              GREATEST("createdAt", "expiresAt" - make_interval(secs => $4)), "expiresAt", "idHash" = $3
         FROM admin_session
        WHERE "userId" = $1 AND "expiresAt" > now() AND "createdAt" > now() - make_interval(secs => $5)
        ORDER BY "lastUsedAt" DESC`,
      [userId, current.family ?? null, current.adminIdHash ?? null, idleTimeout, maxAge],
    );
    return rows.map(({ isCurrent, ...row }) => ({ ...row, current: isCurrent === true }));
  }

  /** Ends one live session of the user at once; the kind ended, or undefined when they have no such one. */
  async end(userId: number, id: string): Promise<UserSessionKind | undefined> {
    if (FAMILY_ID.test(id)) {
      // Through a CTE: pg answers a bare UPDATE … RETURNING with [rows, rowCount], not with the rows.
      const revoked = await this.dataSource.query<unknown[]>(
        `WITH live AS (
           SELECT family FROM refresh_token WHERE "userId" = $1 AND family = $2::uuid
            GROUP BY family
           HAVING bool_and("revokedAt" IS NULL) AND bool_or("usedAt" IS NULL AND "expiresAt" > now())),
         revoked AS (
           UPDATE refresh_token SET "revokedAt" = now()
            WHERE family IN (SELECT family FROM live) AND "revokedAt" IS NULL RETURNING 1)
         SELECT 1 FROM revoked`,
        [userId, id],
      );
      return revoked.length ? 'token' : undefined;
    }
    if (ADMIN_ID.test(id)) {
      const deleted = await this.dataSource.query<unknown[]>(
        `WITH deleted AS (
           DELETE FROM admin_session WHERE "userId" = $1 AND ${ADMIN_PUBLIC_ID} = $2 RETURNING 1)
         SELECT 1 FROM deleted`,
        [userId, id],
      );
      return deleted.length ? 'admin' : undefined;
    }
    return undefined;
  }
}
