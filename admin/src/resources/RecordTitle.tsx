import { useGetRecordRepresentation, useRecordContext } from 'react-admin';
import { useAdminResource } from '../useSchema';

/** "Product Espresso cup": the singular label (react-admin would use the plural menu label). */
export function RecordTitle() {
  const resource = useAdminResource();
  const record = useRecordContext();
  const represent = useGetRecordRepresentation(resource.path);
  return (
    <span>
      {resource.labelSingular} {record ? represent(record) : ''}
    </span>
  );
}
