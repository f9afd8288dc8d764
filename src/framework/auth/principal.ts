import type { EntityManager } from 'typeorm';

/** Who is calling: resolved from a JWT or an API key on every request. */
export interface Principal {
  userId: number;
  email: string;
  isStaff: boolean;
  isSuperuser: boolean;
  /** Permission codenames (direct and through groups); an API key narrows them to its own list. */
  permissions: ReadonlySet<string>;
  via: 'jwt' | 'api-key';
}

/** `true` for superusers, else whether the permission is held. Example: `can(principal, 'orders.view')`. */
export function can(principal: Principal | undefined, permission: string): boolean {
  return !!principal && (principal.isSuperuser || principal.permissions.has(permission));
}

/**
 * Loads an active user's principal in one query (direct and group permissions), or undefined when the
 * user no longer exists or is inactive.
 */
export async function loadPrincipal(
  manager: Pick<EntityManager, 'query'>,
  userId: number,
  via: Principal['via'],
): Promise<Principal | undefined> {
  const rows = await manager.query<
    { id: number; email: string; isStaff: boolean; isSuperuser: boolean; permissions: string[] | null }[]
  >(
    `SELECT u.id, u.email, u."isStaff", u."isSuperuser",
            ARRAY(SELECT p.codename FROM permission p WHERE p.id IN (
              SELECT up."permissionId" FROM user_permissions up WHERE up."userId" = u.id
              UNION SELECT gp."permissionId" FROM group_permissions gp
                JOIN user_groups ug ON ug."groupId" = gp."groupId" WHERE ug."userId" = u.id)) AS permissions
       FROM "user" u WHERE u.id = $1 AND u."isActive"`,
    [userId],
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
