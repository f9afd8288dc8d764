import { DataTable } from 'react-admin';
import { type AdminResource, type AdminSchema, findField } from '../schema';
import { fieldFor } from './fields';

/** The columns of a list (default: the resource's `listDisplay`); only `sortable` fields sort. */
export function columnsFor(resource: AdminResource, schema: AdminSchema, names = resource.listDisplay) {
  return names.flatMap((name) => {
    const field = findField(resource, name);
    if (!field || field.writeOnly) {
      return [];
    }
    return [
      <DataTable.Col
        key={name}
        source={name}
        label={field.label}
        disableSort={!resource.sortable.includes(name)}
      >
        {fieldFor(field, schema, true, resource.path)}
      </DataTable.Col>,
    ];
  });
}
