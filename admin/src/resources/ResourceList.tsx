import { type Theme, useMediaQuery } from '@mui/material';
import { DataTable, EditButton, List, Pagination, type RaRecord, ShowButton, SimpleList } from 'react-admin';
import { defaultSort, findField } from '../schema';
import { useAdminResource, useSchema } from '../useSchema';
import { BulkActions } from './BulkActions';
import { columnsFor } from './columns';
import { valueText } from './fields';
import { filtersFor } from './filters';
import { EmptyList, ListActions } from './ListActions';

const pagination = <Pagination rowsPerPageOptions={[10, 25, 50, 100]} />;

/** A resource's list, entirely from its schema: columns, sorting, search, filters, bulk actions. */
export function ResourceList() {
  const resource = useAdminResource();
  const schema = useSchema();
  const small = useMediaQuery<Theme>((theme) => theme.breakpoints.down('sm'));
  if (!schema) {
    return null;
  }
  const filters = filtersFor(resource, schema);
  const editable = resource.permissions.change && !resource.readOnly;
  const hasBulk = resource.permissions.delete || resource.actions.some((action) => action.bulk);
  const title = resource.titleField;
  // On a phone: the title, then the next two plain columns (relations would only show ids).
  const secondary = resource.listDisplay
    .filter((name) => name !== title && !findField(resource, name)?.relation)
    .slice(0, 2);
  return (
    <List
      filters={filters}
      sort={defaultSort(resource)}
      perPage={25}
      pagination={pagination}
      actions={
        <ListActions hasFilters={filters.some((f) => !(f.props as { alwaysOn?: boolean }).alwaysOn)} />
      }
      empty={<EmptyList />}
    >
      {small ? (
        <SimpleList
          primaryText={(record: RaRecord) => valueText(record, title) || String(record.id)}
          secondaryText={(record: RaRecord) =>
            secondary
              .map((name) => valueText(record, name))
              .filter((text) => text !== '')
              .join(' · ')
          }
          rowClick={editable ? 'edit' : 'show'}
        />
      ) : (
        <DataTable
          rowClick={editable ? 'edit' : 'show'}
          bulkActionButtons={hasBulk ? <BulkActions /> : false}
        >
          {columnsFor(resource, schema)}
          {/* Row clicks are mouse-only: this button opens the record from the keyboard. */}
          <DataTable.Col label="Actions" disableSort>
            {editable ? <EditButton /> : <ShowButton />}
          </DataTable.Col>
        </DataTable>
      )}
    </List>
  );
}
