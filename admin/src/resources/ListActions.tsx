import RestoreFromTrashIcon from '@mui/icons-material/RestoreFromTrash';
import { Button, CreateButton, FilterButton, Link, TopToolbar } from 'react-admin';
import { useAdminResource } from '../useSchema';
import { ExportButton } from './ExportButton';

export function ListActions({ hasFilters }: { hasFilters: boolean }) {
  const resource = useAdminResource();
  return (
    <TopToolbar>
      {hasFilters && <FilterButton />}
      <CreateButton />
      <ExportButton />
      {resource.softDelete && resource.permissions.change && (
        <Button component={Link} to={`/${resource.path}/trash`} label="Trash">
          <RestoreFromTrashIcon />
        </Button>
      )}
    </TopToolbar>
  );
}
