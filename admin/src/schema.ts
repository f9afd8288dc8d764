// The server contract of admin/README.md ("GET /admin/api/schema", version 1).

export type {
  AdminAction,
  AdminField,
  AdminFieldType,
  AdminIcon,
  AdminInline,
  AdminListFilter,
  AdminResource,
  AdminSchema,
  AdminUser,
  ResourcePermission,
} from '../../src/framework/admin/admin-schema.types';
import type {
  AdminField,
  AdminResource,
  AdminSchema,
  ResourcePermission,
} from '../../src/framework/admin/admin-schema.types';

/** The audit log's resource path (README: a read-only, staff-only resource). */
export const AUDIT_RESOURCE = 'audit-entries';

export function findResource(schema: AdminSchema | undefined, path: string): AdminResource | undefined {
  return schema?.resources.find((r) => r.path === path);
}

export function findField(resource: AdminResource, name: string): AdminField | undefined {
  return resource.fields.find((f) => f.name === name);
}

/** `-createdAt,name` → react-admin's single sort (react-admin sorts by one field); none → by `fallback`. */
export function sortOf(ordering: string | null, fallback: string): { field: string; order: 'ASC' | 'DESC' } {
  const first = ordering?.split(',')[0]?.trim();
  if (!first) {
    return { field: fallback, order: 'ASC' };
  }
  return first.startsWith('-') ? { field: first.slice(1), order: 'DESC' } : { field: first, order: 'ASC' };
}

/** A resource list's default sort: its `ordering`, else its primary key. */
export function defaultSort(resource: AdminResource): { field: string; order: 'ASC' | 'DESC' } {
  return sortOf(resource.ordering, resource.primaryKey);
}

/**
 * Whether the signed-in user holds a codename such as `products.change`. The schema only carries the
 * resource permissions, so a codename outside `<path>.<view|add|change|delete>` is left to the server.
 */
export function holds(schema: AdminSchema, codename: string): boolean {
  if (schema.user.isSuperuser) {
    return true;
  }
  const dot = codename.lastIndexOf('.');
  const resource = findResource(schema, codename.slice(0, dot));
  const operation = codename.slice(dot + 1) as ResourcePermission;
  if (!resource || !(operation in resource.permissions)) {
    return true;
  }
  return resource.permissions[operation];
}
