import type { EntityManager } from 'typeorm';
import { forbidden } from 'src/framework/access/problems';

/** Who is calling: resolved from a JWT, an API key or an admin session cookie on every request. */
export interface Principal {
  userId: number;
  email: string;
  isStaff: boolean;
  isSuperuser: boolean;
  /** Permission codenames (direct and through groups); an API key narrows them to its own list. */
  permissions: ReadonlySet<string>;
  /** `session`: the admin panel's cookie session (unsafe requests then need the CSRF token). */
  via: 'jwt' | 'api-key' | 'session';
  /** The API key's id when `via` is `api-key` (each key is a caller of its own, e.g. for Idempotency-Key). */
  apiKeyId?: number;
}

/**
 * Permissions of the framework itself, beside each resource's view/add/change/delete: codename → name.
 * Example: `can(principal, FRAMEWORK_PERMISSIONS.metrics)`.
 */
export const FRAMEWORK_PERMISSIONS = { metrics: 'metrics.view' } as const;
export const FRAMEWORK_PERMISSION_NAMES: Record<string, string> = {
  [FRAMEWORK_PERMISSIONS.metrics]: 'Can view metrics (METRICS=protected)',
};

/** `true` for superusers, else whether the permission is held. Example: `can(principal, 'orders.view')`. */
export function can(principal: Principal | undefined, permission: string): boolean {
  return !!principal && (principal.isSuperuser || principal.permissions.has(permission));
}

/**
 * Account management (password, 2FA, API keys) is done by the user in person: an API key scoped to a few
 * permissions must never be able to take over or widen its owner's account.
 * Example: `requireSession(principal, 'Changing the password')`.
 */
export function requireSession(principal: Principal | undefined, what: string): void {
  if (principal?.via === 'api-key') {
    throw forbidden(`${what} needs a signed-in user, not an API key.`);
  }
}

/**
 * Loads an active user's principal in one query (direct and group permissions), or undefined when the
 * user no longer exists or is inactive, or when `family` (an access token's session) has been revoked:
 * logout, a reused refresh token or a password change end the access tokens of that session at once.
 */
export async function loadPrincipal(
  manager: Pick<EntityManager, 'query'>,
  userId: number,
  via: Principal['via'],
  family?: string,
): Promise<Principal | undefined> {
  const rows = await manager.query<
    { id: number; email: string; isStaff: boolean; isSuperuser: boolean; permissions: string[] | null }[]
  >(
    `SELECT u.id, u.email, u."isStaff", u."isSuperuser",
            ARRAY(SELECT p.codename FROM permission p WHERE p.id IN (
              SELECT up."permissionId" FROM user_permissions up WHERE up."userId" = u.id
              UNION SELECT gp."permissionId" FROM group_permissions gp
                JOIN user_groups ug ON ug."groupId" = gp."groupId" WHERE ug."userId" = u.id)) AS permissions
       FROM "user" u WHERE u.id = $1 AND u."isActive"
        AND NOT EXISTS (SELECT 1 FROM refresh_token r WHERE r.family = $2::uuid AND r."revokedAt" IS NOT NULL)`,
    [userId, family ?? null],
  );
  const row = rows[0];
  if (!row) {
    return undefined;
  }
  return {
    userId: row.id,
    email: row.email,
    isStaff: row.isStaff,
    isSuperuser: row.isSuperuser,
    permissions: new Set(row.permissions ?? []),
    via,
  };
}
