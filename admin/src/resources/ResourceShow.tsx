import { Show, TabbedShowLayout } from 'react-admin';
import { AUDIT_RESOURCE, findResource } from '../schema';
import { useAdminResource, useSchema } from '../useSchema';
import { fieldFor } from './fields';
import { HistoryList } from './HistoryList';
import { Inlines } from './Inlines';
import { RecordActions } from './RecordActions';
import { RecordTitle } from './RecordTitle';

export function ResourceShow() {
  const resource = useAdminResource();
  const schema = useSchema();
  if (!schema) {
    return null;
  }
  const history = resource.path !== AUDIT_RESOURCE && findResource(schema, AUDIT_RESOURCE)?.permissions.view;
  return (
    <Show actions={<RecordActions view="show" />} title={<RecordTitle />}>
      <TabbedShowLayout>
        <TabbedShowLayout.Tab label="Details">
          {resource.fields
            .filter((field) => !field.writeOnly)
            .map((field) => fieldFor(field, schema, false, resource.path))}
          <Inlines label={false} />
        </TabbedShowLayout.Tab>
        {history && (
          <TabbedShowLayout.Tab label="History" path="history">
            <HistoryList />
          </TabbedShowLayout.Tab>
        )}
      </TabbedShowLayout>
    </Show>
  );
}
