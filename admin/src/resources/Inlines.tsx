import { Box, Typography } from '@mui/material';
import { DataTable, Pagination, ReferenceManyField, useListContext, useRecordContext } from 'react-admin';
import { type AdminInline, type AdminSchema, findResource, sortOf } from '../schema';
import { useAdminResource, useSchema } from '../useSchema';
import { columnsFor } from './columns';

const PER_PAGE = 50;

/** Pages only when there are more rows than one page holds. */
function InlinePagination() {
  const { total } = useListContext();
  return total !== undefined && total > PER_PAGE ? <Pagination rowsPerPageOptions={[]} /> : null;
}

/** One inline: the child rows of this record (`filter[<fkField>]=<id>`), read-only, each opening its page. */
function InlineTable({ inline, schema }: { inline: AdminInline; schema: AdminSchema }) {
  const child = findResource(schema, inline.resource);
  if (!child) {
    return null;
  }
  const none = (
    <Typography variant="body2" color="text.secondary">
      No {inline.label.toLowerCase()}.
    </Typography>
  );
  const headingId = `inline-${inline.resource}-${inline.fkField}`;
  return (
    <Box component="section" aria-labelledby={headingId} sx={{ mt: 2, width: '100%' }}>
      <Typography id={headingId} variant="h6" component="h2" sx={{ mb: 1 }}>
        {inline.label}
      </Typography>
      <ReferenceManyField
        reference={child.path}
        target={inline.fkField}
        sort={sortOf(inline.ordering, child.primaryKey)}
        perPage={PER_PAGE}
        pagination={<InlinePagination />}
        empty={none}
      >
        <DataTable
          bulkActionButtons={false}
          rowClick={child.permissions.change && !child.readOnly ? 'edit' : 'show'}
          empty={none}
        >
          {columnsFor(child, schema, inline.fields)}
        </DataTable>
      </ReferenceManyField>
    </Box>
  );
}

/**
 * The resource's inlines (Django's TabularInline): its one-to-many children under the record, on the show
 * and edit pages. `label={false}` keeps react-admin's show layout from adding a field label around them.
 */
export function Inlines(_props: { label?: false }) {
  const resource = useAdminResource();
  const schema = useSchema();
  const record = useRecordContext();
  if (!schema || !record || resource.inlines.length === 0) {
    return null;
  }
  return (
    <>
      {resource.inlines.map((inline) => (
        <InlineTable key={`${inline.resource}.${inline.fkField}`} inline={inline} schema={schema} />
      ))}
    </>
  );
}
