import { usePermissions, useResourceContext, useResourceDefinition } from 'react-admin';
import type { AdminResource, AdminSchema } from './schema';

/** The admin schema: the authProvider returns it as the user's permissions. */
export function useSchema(): AdminSchema | undefined {
  return usePermissions<AdminSchema>().permissions;
}

/**
 * The schema entry of the current resource (registered with `options={{ schema: resource }}`). On a deep
 * link the route renders before react-admin has registered the resource definitions, so the resource
 * context's name is looked up in the schema itself.
 */
export function useAdminResource(): AdminResource {
  const definition = useResourceDefinition<{ schema: AdminResource; label: string }>();
  const name = useResourceContext();
  const schema = useSchema();
  const resource =
    definition.options?.schema ?? schema?.resources.find((r) => r.path === (definition.name ?? name));
  if (!resource) {
    throw new Error(`Resource "${definition.name ?? name}" is not in the admin schema`);
  }
  return resource;
}
