import { EditButton, ShowButton, TopToolbar, useRecordContext } from 'react-admin';
import { ActionButton } from '../actions/ActionButton';
import { useAdminResource, useSchema } from '../useSchema';

/** The top toolbar of show and edit pages: switch between them, and the custom actions on this record. */
export function RecordActions({ view }: { view: 'show' | 'edit' }) {
  const resource = useAdminResource();
  const schema = useSchema();
  const record = useRecordContext();
  if (!schema || !record) {
    return null;
  }
  return (
    <TopToolbar>
      {resource.actions.map((action) => (
        <ActionButton
          key={action.name}
          schema={schema}
          resource={resource}
          action={action}
          ids={[record.id]}
        />
      ))}
      {view === 'show' ? <EditButton /> : <ShowButton />}
    </TopToolbar>
  );
}
