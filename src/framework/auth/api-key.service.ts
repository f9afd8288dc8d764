import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Principal, loadPrincipal } from 'src/framework/access/principal';
import { unauthorized } from 'src/framework/access/problems';
import { sha256 } from 'src/framework/auth/token.service';

/** `nst_<prefix>_<secret>`: told apart from JWTs (which start with `ey`) by its `nst_` start. */
export const API_KEY_RE = /^nst_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

/** Creates and checks API keys. */
@Injectable()
export class ApiKeyService {
  constructor(private readonly dataSource: DataSource) {}

  /** A new key's plaintext (shown once) and what to store. */
  static mint(): { key: string; prefix: string; secretHash: string } {
    const prefix = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12);
    const secret = randomBytes(32).toString('base64url');
    return { key: `nst_${prefix}_${secret}`, prefix, secretHash: sha256(secret) };
  }

  /**
   * The principal of a key: its owner, with only the key's permissions that the owner still holds
   * (a key never has more rights than its owner, and never superuser or staff powers).
   */
  async authenticate(token: string): Promise<Principal> {
    const match = API_KEY_RE.exec(token);
    if (!match) {
      throw unauthorized('The API key is invalid.');
    }
    const [row] = await this.dataSource.query<
      { id: number; userId: number; secretHash: string; permissions: string[] }[]
    >(
      'SELECT id, "userId", "secretHash", permissions FROM api_key WHERE prefix = $1 AND "revokedAt" IS NULL',
      [match[1]],
    );
    const offered = Buffer.from(sha256(match[2]));
    if (!row || !timingSafeEqual(Buffer.from(row.secretHash), offered)) {
      throw unauthorized('The API key is invalid.');
    }
    const owner = await loadPrincipal(this.dataSource, row.userId, 'api-key');
    if (!owner) {
      throw unauthorized('The API key is invalid.');
    }
    await this.dataSource.query('UPDATE api_key SET "lastUsedAt" = now() WHERE id = $1', [row.id]);
    const permissions = row.permissions.filter((p) => owner.isSuperuser || owner.permissions.has(p));
    return {
      ...owner,
      isSuperuser: false,
      isStaff: false,
      permissions: new Set(permissions),
      via: 'api-key',
      apiKeyId: row.id,
    };
  }
}
