import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { DataSource, EntityManager } from 'typeorm';
import { unauthorized } from 'src/framework/access/problems';
import { NestorConfig } from 'src/framework/config/nestor-config';

export const JWT_ISSUER = 'nestor';

/** Wall-clock time that test clocks (which fake `Date`) leave alone. */
function wallClock(): Date {
  return new Date(performance.timeOrigin + performance.now());
}
export const JWT_AUDIENCE = 'nestor-api';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Access token lifetime in seconds. */
  expiresIn: number;
  tokenType: 'Bearer';
}

/** SHA-256 hex: refresh tokens and one-time tokens are stored only as this. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Issues access JWTs and rotating, family-tracked refresh tokens (REFRESH_TOKEN_TTL, 30 days by default;
 * each use rotates them). An access token dies with its family: logout, reuse and password changes end it.
 */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly dataSource: DataSource,
    private readonly config: NestorConfig,
  ) {}

  /** A new pair; `family` continues a rotation chain (a login starts a new one). */
  async issue(userId: number, family: string = randomUUID(), manager?: EntityManager): Promise<TokenPair> {
    const refreshToken = `rt_${randomBytes(32).toString('base64url')}`;
    await (manager ?? this.dataSource.manager).query(
      'INSERT INTO refresh_token ("userId", family, "tokenHash", "expiresAt") VALUES ($1, $2, $3, $4)',
      [userId, family, sha256(refreshToken), new Date(Date.now() + this.config.refreshTokenTtl * 1000)],
    );
    const accessToken = await this.jwt.signAsync({ sub: String(userId), fam: family });
    return { accessToken, refreshToken, expiresIn: this.config.accessTokenTtl, tokenType: 'Bearer' };
  }

  /**
   * Spends a refresh token with one conditional UPDATE (so of N parallel uses exactly one wins) and issues
   * the next pair of its family. A token that was already spent revokes the whole family: it was stolen.
   * Except for the losers of a race: a request that arrived before the winning rotation finished could not
   * have known the token was spent (two tabs, a retry after a timeout), so it gets a 401 and the session,
   * with the winner's new pair, lives on. `usedAt` is when the rotation finished, on the app's clock.
   */
  async rotate(refreshToken: string): Promise<TokenPair> {
    const arrivedAt = wallClock();
    const hash = sha256(refreshToken);
    const pair = await this.dataSource.transaction(async (manager) => {
      // Through a CTE: pg answers a bare UPDATE … RETURNING with [rows, rowCount], not with the rows.
      const [spent] = await manager.query<{ userId: number; family: string }[]>(
        `WITH spent AS (
           UPDATE refresh_token SET "usedAt" = now()
            WHERE "tokenHash" = $1 AND "usedAt" IS NULL AND "revokedAt" IS NULL AND "expiresAt" > now()
              AND EXISTS (SELECT 1 FROM "user" u WHERE u.id = "userId" AND u."isActive")
            RETURNING "userId", family)
         SELECT "userId", family FROM spent`,
        [hash],
      );
      if (!spent) {
        return undefined;
      }
      const next = await this.issue(spent.userId, spent.family, manager);
      // Last before the commit: requests that arrive later knew, or could have known, that it was spent.
      await manager.query('UPDATE refresh_token SET "usedAt" = $2 WHERE "tokenHash" = $1', [
        hash,
        wallClock(),
      ]);
      return next;
    });
    if (pair) {
      return pair;
    }
    // Outside the transaction, so losers of a race do not hold a pooled connection while asking for another.
    const [known] = await this.dataSource.query<{ family: string; usedAt: Date | null }[]>(
      'SELECT family, "usedAt" FROM refresh_token WHERE "tokenHash" = $1',
      [hash],
    );
    if (known?.usedAt && known.usedAt >= arrivedAt) {
      throw unauthorized(
        'The refresh token was rotated by a parallel request that arrived first: use the pair it received.',
      );
    }
    if (known?.usedAt) {
      await this.revokeFamily(known.family); // reuse of a rotated token: it was stolen
    }
    throw unauthorized('The refresh token is invalid, expired or revoked. Log in again.');
  }

  /** Ends one session (its whole rotation family). */
  async revokeFamily(family: string): Promise<void> {
    await this.dataSource.query(
      'UPDATE refresh_token SET "revokedAt" = now() WHERE family = $1 AND "revokedAt" IS NULL',
      [family],
    );
  }

  /** Ends every session of a user except, optionally, the current one (password change). */
  async revokeUser(userId: number, exceptFamily?: string, manager?: EntityManager): Promise<void> {
    await (manager ?? this.dataSource.manager).query(
      `UPDATE refresh_token SET "revokedAt" = now() WHERE "userId" = $1 AND "revokedAt" IS NULL
         AND ($2::uuid IS NULL OR family <> $2::uuid)`,
      [userId, exceptFamily ?? null],
    );
    // Admin cookie sessions end too (a password change or reset signs the user out of the admin).
    await (manager ?? this.dataSource.manager).query('DELETE FROM admin_session WHERE "userId" = $1', [
      userId,
    ]);
  }

  /** The family of a refresh token (for logout), if it is one of ours. */
  async familyOf(refreshToken: string): Promise<string | undefined> {
    const [row] = await this.dataSource.query<{ family: string }[]>(
      'SELECT family FROM refresh_token WHERE "tokenHash" = $1',
      [sha256(refreshToken)],
    );
    return row?.family;
  }
}
