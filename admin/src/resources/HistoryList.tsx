import { DataTable, DateField, Pagination, ReferenceManyField, useRecordContext } from 'react-admin';
import type { AuditEntry } from '../providers/types';
import { AUDIT_RESOURCE } from '../schema';
import { useAdminResource } from '../useSchema';
import { ChangesField, operationText } from './ChangesField';

const NO_CHANGES = <p>No recorded changes.</p>;

/** The History tab: this record's audit entries, newest first (who, when, what, before → after). */
export function HistoryList() {
  const resource = useAdminResource();
  const record = useRecordContext();
  if (!record) {
    return null;
  }
  return (
    <ReferenceManyField
      reference={AUDIT_RESOURCE}
      target="recordId"
      filter={{ resource: resource.path }}
      sort={{ field: 'at', order: 'DESC' }}
      perPage={10}
      pagination={<Pagination rowsPerPageOptions={[10, 25, 50]} />}
      empty={NO_CHANGES}
    >
      {/* The resource filter is fixed: the table's own empty state would offer to clear it. */}
      <DataTable bulkActionButtons={false} rowClick={false} empty={NO_CHANGES}>
        <DataTable.Col source="at" label="When">
          <DateField source="at" showTime />
        </DataTable.Col>
        <DataTable.Col source="actorEmail" label="Who" disableSort />
        <DataTable.Col
          source="operation"
          label="Operation"
          disableSort
          render={(entry: AuditEntry) => operationText(entry)}
        />
        <DataTable.Col source="changes" label="Changes" disableSort>
          <ChangesField />
        </DataTable.Col>
      </DataTable>
    </ReferenceManyField>
  );
}
