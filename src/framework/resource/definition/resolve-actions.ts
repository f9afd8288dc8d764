import { RESOURCE_ACTIONS, ResourceAction } from 'src/framework/resource/resource.decorator';
import type { DefinitionContext } from 'src/framework/resource/definition/definition-types';

/** Option `softDelete` (default: on when the entity has a @DeleteDateColumn). */
export function resolveSoftDelete(context: DefinitionContext): boolean {
  const { metadata, options } = context;
  const softDelete = options.softDelete ?? metadata.deleteDateColumn !== undefined;
  if (softDelete && !metadata.deleteDateColumn) {
    context.fail('NST-R007', `option "softDelete" needs a @DeleteDateColumn on ${metadata.name}`);
  }
  return softDelete;
}

/** Options `actions` (default: all, `restore` only with soft delete), `public` and `staffOnly`. */
export function resolveActions(
  context: DefinitionContext,
  softDelete: boolean,
): { actions: Set<ResourceAction>; publicActions: Set<ResourceAction> } {
  const { options, fail } = context;
  const actionList = options.actions ?? RESOURCE_ACTIONS.filter((a) => a !== 'restore' || softDelete);
  for (const action of [...actionList, ...(options.public ?? [])]) {
    if (!(RESOURCE_ACTIONS as readonly string[]).includes(action)) {
      fail('NST-R001', `unknown action "${action}" (actions: ${RESOURCE_ACTIONS.join(', ')})`);
    }
  }
  if (actionList.includes('restore') && !softDelete) {
    fail('NST-R007', `action "restore" needs soft delete`);
  }
  return {
    actions: new Set(actionList),
    // A staff-only resource has no anonymous actions, whatever `public` says.
    publicActions: new Set(options.staffOnly ? [] : (options.public ?? [])),
  };
}
