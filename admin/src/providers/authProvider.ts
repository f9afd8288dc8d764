import type { AuthProvider, HttpError } from 'react-admin';
import { currentUser, forget, loadSchema, login, logout, resume } from '../api/session';
import { findResource, holds, type AdminSchema, type ResourcePermission } from '../schema';

/** react-admin's actions → the resource permission that allows them. */
const NEEDS: Record<string, ResourcePermission> = {
  list: 'view',
  show: 'view',
  export: 'view',
  create: 'add',
  edit: 'change',
  delete: 'delete',
  restore: 'change',
};

/** What the schema lets the user do: react-admin hides buttons and menu entries accordingly. */
export function canAccess(schema: AdminSchema, resourcePath: string, action: string): boolean {
  const resource = findResource(schema, resourcePath);
  if (!resource) {
    return false;
  }
  if ((action === 'create' || action === 'edit') && resource.readOnly) {
    return false;
  }
  if (action === 'restore' && !resource.softDelete) {
    return false;
  }
  const needed = NEEDS[action];
  if (needed) {
    return resource.permissions[needed];
  }
  // A custom action: `action:<name>`.
  const custom = resource.actions.find((a) => `action:${a.name}` === action);
  return custom !== undefined && holds(schema, custom.permission);
}

/** The session endpoints: an httpOnly cookie, the CSRF token in memory only. */
export const authProvider: AuthProvider = {
  login: async ({ email, password, otp }: { email: string; password: string; otp?: string }) => {
    await login({ email, password, ...(otp ? { otp } : {}) });
  },

  logout: async () => {
    await logout();
  },

  checkAuth: async () => {
    await resume();
  },

  checkError: (error: HttpError) => {
    if (error?.status === 401) {
      forget();
      return Promise.reject(error);
    }
    // 403 is a refused action, not a lost session: stay signed in and let the notification say it.
    return Promise.resolve();
  },

  getIdentity: async () => {
    const user = currentUser() ?? (await resume());
    return { id: user.id, fullName: user.email };
  },

  // The schema is the user's permissions: what they see and may do (the `<Admin>` children read it).
  getPermissions: async () => {
    await resume();
    return loadSchema();
  },

  canAccess: async ({ resource, action }) => {
    if (!resource) {
      return true;
    }
    const schema = await loadSchema();
    return canAccess(schema, resource, action);
  },
};
