import { DeleteButton, Edit, SaveButton, TabbedForm, Toolbar } from 'react-admin';
import { AUDIT_RESOURCE, findResource } from '../schema';
import { useSchema } from '../useSchema';
import { FormSections } from './FormSections';
import { HistoryList } from './HistoryList';
import { Inlines } from './Inlines';
import { RecordActions } from './RecordActions';
import { RecordTitle } from './RecordTitle';

const toolbar = (
  <Toolbar sx={{ justifyContent: 'space-between' }}>
    <SaveButton />
    <DeleteButton mutationMode="pessimistic" />
  </Toolbar>
);

/** Pessimistic, so the server's validation errors land on the fields before leaving the page. */
export function ResourceEdit() {
  const schema = useSchema();
  const history = findResource(schema, AUDIT_RESOURCE)?.permissions.view;
  return (
    <Edit mutationMode="pessimistic" actions={<RecordActions view="edit" />} title={<RecordTitle />}>
      <TabbedForm toolbar={toolbar} warnWhenUnsavedChanges>
        <TabbedForm.Tab label="Details">
          <FormSections mode="edit" />
          <Inlines />
        </TabbedForm.Tab>
        {history && (
          <TabbedForm.Tab label="History" path="history">
            <HistoryList />
          </TabbedForm.Tab>
        )}
      </TabbedForm>
    </Edit>
  );
}
