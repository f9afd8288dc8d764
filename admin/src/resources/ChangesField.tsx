import { Box, Typography } from '@mui/material';
import { Link, useRecordContext } from 'react-admin';
import type { AuditEntry } from '../providers/types';
import { type AdminField, type AdminResource, type AdminSchema, findResource } from '../schema';
import { toText } from '../text';
import { useSchema } from '../useSchema';
import { useRecordLabels } from './useRecordLabels';

function show(value: unknown): string {
  if (value === null || value === undefined) {
    return '∅';
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

const idsIn = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === null || value === undefined ? [] : [value];

/** One changed field: "Price: 10.00 → 12.50"; a relation by its records' names, "Category: Kitchen → Garden". */
function Change({
  schema,
  field,
  name,
  before,
  after,
  created,
}: {
  schema: AdminSchema | undefined;
  field: AdminField | undefined;
  name: string;
  before: unknown;
  after: unknown;
  created: boolean;
}) {
  const relation = field?.relation ?? null;
  const { labelOf } = useRecordLabels(
    relation ? findResource(schema, relation.resource) : undefined,
    relation ? [...idsIn(before), ...idsIn(after)] : [],
  );
  // A related record that is gone (or not for this user's eyes) is named by its id: "#6".
  const named = (id: unknown): string => labelOf(id) ?? `#${toText(id)}`;
  const text = (value: unknown): string =>
    !relation || value === null || value === undefined
      ? show(value)
      : Array.isArray(value)
        ? show(value.length === 0 ? '∅' : value.map(named).join(', '))
        : show(named(value));
  return (
    <Typography component="li" variant="body2" sx={{ wordBreak: 'break-word' }}>
      <strong>{field?.label ?? name}</strong>: {created ? text(after) : `${text(before)} → ${text(after)}`}
    </Typography>
  );
}

/** An audit entry's changes: one line per field, related records by name. */
export function ChangesField(_props: { label?: string; source?: string }) {
  const entry = useRecordContext<AuditEntry>();
  const schema = useSchema();
  const resource = findResource(schema, entry?.resource ?? '');
  const changes = Object.entries(entry?.changes ?? {});
  if (changes.length === 0) {
    return null;
  }
  return (
    <Box component="ul" sx={{ listStyle: 'none', m: 0, p: 0 }}>
      {changes.map(([name, [before, after]]) => (
        <Change
          key={name}
          schema={schema}
          field={resource?.fields.find((f) => f.name === name)}
          name={name}
          before={before}
          after={after}
          created={entry?.operation === 'create'}
        />
      ))}
    </Box>
  );
}

/** What the entry itself recorded of the record's title (after a change, else before). */
function keptTitle(entry: AuditEntry, resource: AdminResource | undefined): string | undefined {
  const [before, after] = (resource && entry.changes[resource.titleField]) || [];
  const kept = after ?? before;
  return typeof kept === 'string' && kept !== '' ? kept : undefined;
}

/**
 * The audited record by name ("Product Espresso cup"), linked when this user may open it. A record that no
 * longer exists keeps the name its entries recorded ("Tag gift"), or its id, and no link.
 */
export function AuditRecordField(_props: { label?: string; source?: string }) {
  const entry = useRecordContext<AuditEntry>();
  const resource = findResource(useSchema(), entry?.resource ?? '');
  const deleted = entry?.operation === 'delete';
  const { labelOf, settled } = useRecordLabels(resource, entry && !deleted ? [entry.recordId] : []);
  if (!entry) {
    return null;
  }
  const live = labelOf(entry.recordId);
  const gone = deleted || (settled && live === undefined);
  const text = `${resource?.labelSingular ?? entry.resource} ${
    live ?? keptTitle(entry, resource) ?? `#${entry.recordId}`
  }`;
  return resource?.permissions.view && !gone ? (
    <Link to={`/${resource.path}/${encodeURIComponent(entry.recordId)}/show`}>{text}</Link>
  ) : (
    <span>{text}</span>
  );
}

export function operationText(entry: Pick<AuditEntry, 'operation'> & { actionName?: string | null }): string {
  return entry.actionName ? `${entry.operation}: ${entry.actionName}` : entry.operation;
}
