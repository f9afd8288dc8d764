import { Create, SimpleForm } from 'react-admin';
import { useAdminResource } from '../useSchema';
import { FormSections } from './FormSections';

export function ResourceCreate() {
  const resource = useAdminResource();
  return (
    <Create redirect={resource.permissions.change ? 'edit' : 'show'}>
      <SimpleForm warnWhenUnsavedChanges>
        <FormSections mode="create" />
      </SimpleForm>
    </Create>
  );
}
