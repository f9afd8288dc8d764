import {
  BooleanField,
  ChipField,
  DateField,
  FunctionField,
  NumberField,
  ReferenceArrayField,
  ReferenceField,
  SingleFieldList,
  type RaRecord,
  TextField,
} from 'react-admin';
import { type AdminField, type AdminSchema, AUDIT_RESOURCE, findResource } from '../schema';
import { toText } from '../text';
import { AuditRecordField, ChangesField, operationText } from './ChangesField';
import type { AuditEntry } from '../providers/types';

function JsonValue({ value }: { value: unknown }) {
  if (value === null || value === undefined) {
    return null;
  }
  return (
    <pre style={{ margin: 0, whiteSpace: 'pre-wrap', wordBreak: 'break-word', fontSize: '0.8125rem' }}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** A record's value (records are loosely typed: fields come from the schema). */
export const valueOf = (record: RaRecord, name: string): unknown => (record as Record<string, unknown>)[name];

export function valueText(record: RaRecord, name: string): string {
  return toText(valueOf(record, name));
}

const short = (value: unknown): string => {
  const text = typeof value === 'string' ? value : '';
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
};

/** The read-only rendering of one schema field, for list columns (`inList`) and show pages (keyed by field name). */
export function fieldFor(field: AdminField, schema: AdminSchema, inList = false, resourcePath = '') {
  const common = { source: field.name, label: field.label };
  if (resourcePath === AUDIT_RESOURCE) {
    // The audit log reads better as "Product #5" and "Price: 10.00 → 12.50" than as ids and JSON.
    if (field.name === 'changes') {
      return <ChangesField key={field.name} {...common} />;
    }
    if (field.name === 'recordId') {
      return <AuditRecordField key={field.name} {...common} />;
    }
    if (field.name === 'operation') {
      return (
        <FunctionField key={field.name} {...common} render={(entry: AuditEntry) => operationText(entry)} />
      );
    }
  }
  if (field.relation) {
    const target = findResource(schema, field.relation.resource);
    const link = target?.permissions.view ? 'show' : false;
    if (!target) {
      return (
        <FunctionField
          key={field.name}
          {...common}
          render={(record: RaRecord) => valueText(record, field.name)}
        />
      );
    }
    return field.relation.cardinality === 'toOne' ? (
      <ReferenceField key={field.name} {...common} reference={target.path} link={link} />
    ) : (
      <ReferenceArrayField key={field.name} {...common} reference={target.path} perPage={inList ? 5 : 50}>
        <SingleFieldList linkType={link} />
      </ReferenceArrayField>
    );
  }
  switch (field.type) {
    case 'integer':
    case 'number':
      return <NumberField key={field.name} {...common} />;
    case 'boolean':
      return <BooleanField key={field.name} {...common} />;
    case 'enum':
      return <ChipField key={field.name} {...common} size="small" emptyText="" />;
    case 'date':
      return <DateField key={field.name} {...common} />;
    case 'datetime':
      return <DateField key={field.name} {...common} showTime />;
    case 'json':
      return inList ? (
        <FunctionField
          key={field.name}
          {...common}
          render={(record: RaRecord) => short(valueText(record, field.name))}
        />
      ) : (
        <FunctionField
          key={field.name}
          {...common}
          render={(record: RaRecord) => <JsonValue value={valueOf(record, field.name)} />}
        />
      );
    case 'text':
      return inList ? (
        <FunctionField
          key={field.name}
          {...common}
          render={(record: RaRecord) => short(valueText(record, field.name))}
        />
      ) : (
        <TextField key={field.name} {...common} sx={{ whiteSpace: 'pre-wrap' }} />
      );
    default:
      // string, uuid, and decimal: decimals stay the server's exact string ("12.50")
      return <TextField key={field.name} {...common} />;
  }
}

export { JsonValue };
