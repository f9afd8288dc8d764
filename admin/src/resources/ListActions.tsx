import RestoreFromTrashIcon from '@mui/icons-material/RestoreFromTrash';
import { Box } from '@mui/material';
import { Button, CreateButton, Empty, FilterButton, Link, TopToolbar } from 'react-admin';
import { useAdminResource } from '../useSchema';
import { ExportButton } from './ExportButton';

/** The way to the soft-deleted rows, for users who may restore them. */
function TrashButton() {
  const resource = useAdminResource();
  if (!resource.softDelete || !resource.permissions.change) {
    return null;
  }
  return (
    <Button component={Link} to={`/${resource.path}/trash`} label="Trash">
      <RestoreFromTrashIcon />
    </Button>
  );
}

export function ListActions({ hasFilters }: { hasFilters: boolean }) {
  return (
    <TopToolbar>
      {hasFilters && <FilterButton />}
      <CreateButton />
      <ExportButton />
      <TrashButton />
    </TopToolbar>
  );
}

/** A list with no rows at all: react-admin's empty page (with Create), and the trash, which may hold some. */
export function EmptyList() {
  return (
    <Box sx={{ flex: 1, display: 'flex', flexDirection: 'column', alignItems: 'center', gap: 1 }}>
      <Empty />
      <TrashButton />
    </Box>
  );
}
