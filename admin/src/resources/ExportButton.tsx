import DownloadIcon from '@mui/icons-material/Download';
import { Button, useListContext } from 'react-admin';
import { listQuery } from '../api/query';
import { useAdminResource } from '../useSchema';

/** Downloads the whole filtered, sorted list as CSV from the server (every page, streamed). */
export function ExportButton() {
  const resource = useAdminResource();
  const list = useListContext();
  const query = listQuery(resource, {
    filter: list.filterValues as Record<string, unknown>,
    sort: list.sort,
  });
  return (
    <Button
      label="Export CSV"
      component="a"
      href={`/admin/api/export/${resource.path}.csv?${query.toString()}`}
      download
      disabled={list.total === 0}
    >
      <DownloadIcon />
    </Button>
  );
}
