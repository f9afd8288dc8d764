import { Box, Typography } from '@mui/material';
import { Link, useRecordContext } from 'react-admin';
import type { AuditEntry } from '../providers/types';
import { findResource } from '../schema';
import { useSchema } from '../useSchema';

function show(value: unknown): string {
  if (value === null || value === undefined) {
    return '∅';
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

/** An audit entry's changes: one line per field, "Price: 10.00 → 12.50". */
export function ChangesField(_props: { label?: string; source?: string }) {
  const entry = useRecordContext<AuditEntry>();
  const resource = findResource(useSchema(), entry?.resource ?? '');
  const changes = Object.entries(entry?.changes ?? {});
  if (changes.length === 0) {
    return null;
  }
  return (
    <Box component="ul" sx={{ listStyle: 'none', m: 0, p: 0 }}>
      {changes.map(([name, [before, after]]) => (
        <Typography component="li" variant="body2" key={name} sx={{ wordBreak: 'break-word' }}>
          <strong>{resource?.fields.find((f) => f.name === name)?.label ?? name}</strong>:{' '}
          {entry?.operation === 'create' ? show(after) : `${show(before)} → ${show(after)}`}
        </Typography>
      ))}
    </Box>
  );
}

/** The audited record, linked when this user may open it. */
export function AuditRecordField(_props: { label?: string; source?: string }) {
  const entry = useRecordContext<AuditEntry>();
  const resource = findResource(useSchema(), entry?.resource ?? '');
  if (!entry) {
    return null;
  }
  const text = `${resource?.labelSingular ?? entry.resource} #${entry.recordId}`;
  return resource?.permissions.view && entry.operation !== 'delete' ? (
    <Link to={`/${resource.path}/${encodeURIComponent(entry.recordId)}/show`}>{text}</Link>
  ) : (
    <span>{text}</span>
  );
}

export function operationText(entry: AuditEntry): string {
  return entry.actionName ? `${entry.operation}: ${entry.actionName}` : entry.operation;
}
