import { BulkDeleteButton, type Identifier, useListContext } from 'react-admin';
import { ActionButton } from '../actions/ActionButton';
import { useAdminResource, useSchema } from '../useSchema';

/** What the list offers on selected rows: the bulk custom actions, then delete (one DELETE per row). */
export function BulkActions() {
  const resource = useAdminResource();
  const schema = useSchema();
  const { selectedIds, onUnselectItems } = useListContext();
  if (!schema) {
    return null;
  }
  return (
    <>
      {resource.actions
        .filter((action) => action.bulk)
        .map((action) => (
          <ActionButton
            key={action.name}
            schema={schema}
            resource={resource}
            action={action}
            ids={selectedIds as Identifier[]}
            onDone={() => onUnselectItems()}
          />
        ))}
      <BulkDeleteButton mutationMode="pessimistic" />
    </>
  );
}
