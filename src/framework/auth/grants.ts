import type { EntityManager } from 'typeorm';
import type { Principal } from 'src/framework/auth/principal';
import { ProblemException, ProblemFieldError } from 'src/framework/http/problem';

/**
 * Whether the caller may do anything to accounts and grants: superusers, and trusted internal writes
 * (no principal: the generated routes always pass the caller, so only server code writes without one).
 */
export function unrestricted(principal: Principal | undefined): boolean {
  return !principal || principal.isSuperuser;
}

/** 403 naming the fields the caller may not set. */
export function refused(detail: string, errors: ProblemFieldError[]): ProblemException {
  return new ProblemException({
    type: 'urn:nestor:problem:forbidden',
    title: 'Forbidden',
    status: 403,
    detail,
    errors,
  });
}

/** The ids in `next` that are not in `previous` (as stored: numbers from the row's `<relation>Ids`). */
export function addedIds(next: unknown, previous: unknown): number[] {
  const before = new Set((Array.isArray(previous) ? previous : []).map(String));
  return (Array.isArray(next) ? next : []).filter((id) => !before.has(String(id))).map(Number);
}

/**
 * Refuses (403, rolling the write back) when a non-superuser grants a permission they do not hold
 * themselves: directly (`permissionIds`) or through a group (`groupIds`), so nobody can raise their own
 * or anyone's rights above theirs. Example: `await checkGrants(manager, principal, { permissionIds: [3] })`.
 */
export async function checkGrants(
  manager: Pick<EntityManager, 'query'>,
  principal: Principal | undefined,
  granted: { permissionIds?: number[]; groupIds?: number[] },
): Promise<void> {
  if (unrestricted(principal)) {
    return;
  }
  const held = principal!.permissions;
  const errors: ProblemFieldError[] = [];
  if (granted.permissionIds?.length) {
    const rows = await manager.query<{ codename: string }[]>(
      'SELECT codename FROM permission WHERE id = ANY($1) ORDER BY codename',
      [granted.permissionIds],
    );
    for (const { codename } of rows.filter((r) => !held.has(r.codename))) {
      errors.push({
        pointer: '/permissionIds',
        code: 'forbidden',
        message: `you cannot grant ${codename}: you do not hold it`,
      });
    }
  }
  if (granted.groupIds?.length) {
    const rows = await manager.query<{ name: string; codename: string }[]>(
      `SELECT g.name, p.codename FROM group_permissions gp
         JOIN auth_group g ON g.id = gp."groupId" JOIN permission p ON p.id = gp."permissionId"
        WHERE gp."groupId" = ANY($1) ORDER BY g.name, p.codename`,
      [granted.groupIds],
    );
    for (const { name, codename } of rows.filter((r) => !held.has(r.codename))) {
      errors.push({
        pointer: '/groupIds',
        code: 'forbidden',
        message: `you cannot grant the group ${name}: it holds ${codename}, which you do not`,
      });
    }
  }
  if (errors.length > 0) {
    throw refused('Only superusers may grant permissions they do not hold themselves.', errors);
  }
}
