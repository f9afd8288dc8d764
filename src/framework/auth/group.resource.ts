import { addedIds, checkGrants, recordGrantChanges } from 'src/framework/auth/grants';
import { Group } from 'src/framework/auth/group.entity';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { HookContext, Resource, ResourceHooks, ResourceRow } from 'src/framework/resource/resource.decorator';

/**
 * `/api/groups`: named sets of permissions (`permissionIds`), for staff with `groups.*` (non-staff get 403).
 * Only superusers may add to a group a permission they do not hold themselves (403, nothing written).
 */
@Resource(Group, {
  path: 'groups',
  staffOnly: true,
  search: ['name'],
  defaultSort: 'name',
  include: ['permissions'],
  admin: { icon: 'Groups', listDisplay: ['name'], titleField: 'name' },
})
export class GroupResource implements ResourceHooks {
  constructor(private readonly events: SecurityEvents) {}

  async afterCreate({ manager, principal, row }: HookContext & { row: ResourceRow }): Promise<void> {
    await checkGrants(manager, principal, { permissionIds: addedIds(row.permissionIds, []) });
    recordGrantChanges(
      this.events,
      { manager, principal },
      'groupId',
      { id: row.id, permissionIds: row.permissionIds },
      {},
    );
  }

  async afterUpdate({
    manager,
    principal,
    row,
    previous,
  }: HookContext & { row: ResourceRow; previous: ResourceRow }): Promise<void> {
    await checkGrants(manager, principal, {
      permissionIds: addedIds(row.permissionIds, previous.permissionIds),
    });
    recordGrantChanges(
      this.events,
      { manager, principal },
      'groupId',
      { id: row.id, permissionIds: row.permissionIds },
      previous,
    );
  }
}
