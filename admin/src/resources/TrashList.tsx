import ArrowBackIcon from '@mui/icons-material/ArrowBack';
import RestoreFromTrashIcon from '@mui/icons-material/RestoreFromTrash';
import { useState } from 'react';
import {
  Button,
  DataTable,
  type Identifier,
  Link,
  List,
  Pagination,
  ResourceContextProvider,
  TopToolbar,
  useDataProvider,
  useListContext,
  useNotify,
  useRecordContext,
  useRefresh,
} from 'react-admin';
import type { NestorDataProvider } from '../providers/dataProvider';
import { defaultSort } from '../schema';
import { useAdminResource, useSchema } from '../useSchema';
import { columnsFor } from './columns';
import { filtersFor } from './filters';

function useRestore() {
  const resource = useAdminResource();
  const dataProvider = useDataProvider<NestorDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const [pending, setPending] = useState(false);
  const restore = async (ids: Identifier[]) => {
    setPending(true);
    let restored = 0;
    try {
      for (const id of ids) {
        await dataProvider.restore(resource.path, id);
        restored += 1;
      }
      notify(`Restored ${restored} ${restored === 1 ? resource.labelSingular : resource.label}`, {
        type: 'success',
      });
    } catch (error) {
      notify(`Restored ${restored} of ${ids.length}: ${(error as Error).message}`, { type: 'error' });
    } finally {
      setPending(false);
      refresh();
    }
  };
  return { restore, pending };
}

function RestoreButton() {
  const record = useRecordContext();
  const { restore, pending } = useRestore();
  return (
    <Button label="Restore" disabled={pending || !record} onClick={() => record && void restore([record.id])}>
      <RestoreFromTrashIcon />
    </Button>
  );
}

function BulkRestoreButton() {
  const { selectedIds, onUnselectItems } = useListContext();
  const { restore, pending } = useRestore();
  return (
    <Button
      label="Restore"
      disabled={pending}
      onClick={() => void restore(selectedIds as Identifier[]).then(() => onUnselectItems())}
    >
      <RestoreFromTrashIcon />
    </Button>
  );
}

/** Soft-deleted rows of a resource (`?trashed=only`), each restorable. */
export function TrashList() {
  const resource = useAdminResource();
  const schema = useSchema();
  if (!schema) {
    return null;
  }
  return (
    <ResourceContextProvider value={resource.path}>
      <List
        title={`${resource.label}: trash`}
        storeKey={`${resource.path}.trash`}
        queryOptions={{ meta: { trashed: true } }}
        filters={filtersFor(resource, schema)}
        sort={defaultSort(resource)}
        perPage={25}
        pagination={<Pagination rowsPerPageOptions={[10, 25, 50, 100]} />}
        actions={
          <TopToolbar>
            <Button component={Link} to={`/${resource.path}`} label={`Back to ${resource.label}`}>
              <ArrowBackIcon />
            </Button>
          </TopToolbar>
        }
        empty={false}
      >
        <DataTable rowClick={false} bulkActionButtons={<BulkRestoreButton />}>
          {columnsFor(resource, schema)}
          <DataTable.Col label="Restore" disableSort>
            <RestoreButton />
          </DataTable.Col>
        </DataTable>
      </List>
    </ResourceContextProvider>
  );
}
