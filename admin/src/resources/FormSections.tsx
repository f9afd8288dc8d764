import { Typography } from '@mui/material';
import { Fragment } from 'react';
import { type AdminField, findField } from '../schema';
import { useAdminResource, useSchema } from '../useSchema';
import { type FormMode, inputFor } from './inputs';

/** The form's inputs, laid out by the resource's `fieldsets` (all fields in order when it has none). */
export function FormSections({ mode }: { mode: FormMode }) {
  const resource = useAdminResource();
  const schema = useSchema();
  if (!schema) {
    return null;
  }
  const sets =
    resource.fieldsets.length > 0
      ? resource.fieldsets
      : [{ title: null, fields: resource.fields.map((field) => field.name) }];
  // Read-only fields (ids, timestamps) have nothing to enter on create.
  const shown = (field: AdminField | undefined): field is AdminField =>
    field !== undefined && !(mode === 'create' && field.readOnly);
  return (
    <>
      {sets.map((set, index) => (
        <Fragment key={set.title ?? index}>
          {set.title && (
            <Typography variant="h6" component="h2" sx={{ mt: index === 0 ? 0 : 2 }}>
              {set.title}
            </Typography>
          )}
          {set.fields
            .map((name) => findField(resource, name))
            .filter(shown)
            .map((field) => (
              <Fragment key={field.name}>{inputFor(field, schema, mode)}</Fragment>
            ))}
        </Fragment>
      ))}
    </>
  );
}
