import { Permission } from 'src/framework/auth/permission.entity';
import { Resource } from 'src/framework/resource/resource.decorator';

/**
 * `/api/permissions`: the permission catalogue (`<resource>.view|add|change|delete`, created at boot), read-only
 * and for staff. It lets clients (the admin's permission picker) search permissions by codename or name.
 */
@Resource(Permission, {
  path: 'permissions',
  staffOnly: true,
  actions: ['list', 'get'],
  search: ['codename', 'name'],
  sort: ['codename', 'name'],
  defaultSort: 'codename',
  admin: { icon: 'Key', listDisplay: ['codename', 'name'], titleField: 'codename' },
})
export class PermissionResource {}
