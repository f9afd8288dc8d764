import type { EntityManager } from 'typeorm';
import type { Principal } from 'src/framework/access/principal';
import type { SecurityEventFields, SecurityEvents } from 'src/framework/auth/security-events';
import type { HookContext, ResourceRow } from 'src/framework/resource/resource.decorator';
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

/** What decides what an account may do: a change to any of these is a `grants.changed` security event. */
const GRANT_FIELDS = ['permissionIds', 'groupIds', 'isStaff', 'isSuperuser', 'isActive'] as const;

/**
 * The grant fields that differ between two versions of a row (`previous` empty on create), with their new
 * values, for the `grants.changed` event; undefined when none changed.
 */
function grantChanges(row: ResourceRow, previous: ResourceRow): SecurityEventFields | undefined {
  const sameIds = (a: unknown, b: unknown): boolean =>
    addedIds(a, b).length === 0 && addedIds(b, a).length === 0;
  const changed = GRANT_FIELDS.filter((name) =>
    name.endsWith('Ids')
      ? name in row && !sameIds(row[name], previous[name])
      : name in row && row[name] !== (previous[name] ?? (name === 'isActive' ? true : false)),
  );
  if (changed.length === 0) {
    return undefined;
  }
  const fields: SecurityEventFields = { changed };
  for (const name of changed) {
    fields[name] = name.endsWith('Ids')
      ? (Array.isArray(row[name]) ? (row[name] as unknown[]) : []).map(Number)
      : Boolean(row[name]);
  }
  return fields;
}

/**
 * Logs a change of what an account or group grants as `grants.changed`, once the write commits.
 * Example: `recordGrantChanges(events, { manager, principal }, 'userId', row, previous)` in `afterUpdate`.
 */
export function recordGrantChanges(
  events: SecurityEvents,
  { manager, principal }: Pick<HookContext, 'manager' | 'principal'>,
  subject: 'userId' | 'groupId',
  row: ResourceRow,
  previous: ResourceRow,
): void {
  const changes = grantChanges(row, previous);
  if (changes) {
    events.recordAfterCommit(manager, 'grants.changed', {
      [subject]: Number(row.id),
      actorId: principal?.userId ?? null,
      ...changes,
    });
  }
}
