import type { EntityManager } from 'typeorm';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import type { ResourceInput } from 'src/framework/resource/resource-input';

/** Writes each sent `<relation>Ids` to its junction table: added on create, replaced on update. */
export async function writeMany(
  manager: EntityManager,
  definition: ResourceDefinition,
  id: unknown,
  input: ResourceInput,
  replace: boolean,
): Promise<void> {
  for (const [field, ids] of input.many) {
    const relation = manager
      .createQueryBuilder()
      .relation(definition.metadata.target, field.relation!.propertyName)
      .of(id);
    if (replace) {
      const current = await relation.loadMany<Record<string, unknown>>();
      const pk = field.relation!.inverseEntityMetadata.primaryColumns[0].propertyName;
      const currentIds = current.map((r) => r[pk]);
      await relation.addAndRemove(
        ids.filter((i) => !currentIds.some((c) => String(c) === String(i))),
        currentIds.filter((c) => !ids.some((i) => String(c) === String(i))),
      );
    } else if (ids.length > 0) {
      await relation.add(ids);
    }
  }
}
