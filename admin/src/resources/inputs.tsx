import {
  AutocompleteArrayInput,
  AutocompleteInput,
  BooleanInput,
  DateInput,
  DateTimeInput,
  maxLength,
  maxValue,
  minLength,
  minValue,
  NullableBooleanInput,
  NumberInput,
  PasswordInput,
  ReferenceArrayInput,
  ReferenceInput,
  required,
  SelectInput,
  TextInput,
  type Validator,
} from 'react-admin';
import { OP } from '../api/query';
import { toText } from '../text';
import { type AdminField, type AdminResource, type AdminSchema, findResource } from '../schema';

export type FormMode = 'create' | 'edit';

// react-admin's `regex` is typed through lodash's (absent) types; this is the same check.
const matches =
  (pattern: RegExp, message: string): Validator =>
  (value: unknown) =>
    typeof value === 'string' && value !== '' && !pattern.test(value) ? message : undefined;

function validJson(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    return undefined;
  }
  try {
    JSON.parse(value);
    return undefined;
  } catch (error) {
    return `Invalid JSON: ${(error as Error).message}`;
  }
}

function validators(field: AdminField, mode: FormMode): Validator[] {
  const list: Validator[] = [];
  // A blank write-only field (a password) on edit means "keep it".
  if (field.required && !(mode === 'edit' && field.writeOnly)) {
    list.push(required());
  }
  if (field.min !== null) {
    list.push(minValue(field.min));
  }
  if (field.max !== null) {
    list.push(maxValue(field.max));
  }
  if (field.minLength !== null) {
    list.push(minLength(field.minLength));
  }
  if (field.maxLength !== null) {
    list.push(maxLength(field.maxLength));
  }
  // The same pattern OpenAPI documents and the server checks, with what it means in words.
  if (field.pattern !== null) {
    list.push(matches(new RegExp(field.pattern, 'u'), field.patternMessage ?? `Must match ${field.pattern}`));
  }
  if (field.type === 'json') {
    list.push(validJson);
  }
  return list;
}

/** How an autocomplete asks the target resource for matches: its search (`q`), else its title field. */
export function searchFilter(target: AdminResource): (text: string) => Record<string, string> {
  if (target.searchFields.length > 0) {
    return (text): Record<string, string> => (text ? { q: text } : {});
  }
  const title = target.listFilter.find((f) => f.field === target.titleField);
  const op = ['icontains', 'startswith', 'contains'].find((o) => title?.operators.includes(o));
  return (text) => (text && op ? { [`${target.titleField}${OP}${op}`]: text } : {});
}

const formatJson = (value: unknown): string =>
  value === null || value === undefined
    ? ''
    : typeof value === 'string'
      ? value
      : JSON.stringify(value, null, 2);

/** The form input of one schema field; `readOnly` fields show on edit but are never sent. */
export function inputFor(field: AdminField, schema: AdminSchema, mode: FormMode) {
  const common = {
    source: field.name,
    label: field.label,
    helperText: field.helpText ?? undefined,
    validate: validators(field, mode),
    readOnly: field.readOnly,
  };
  if (field.relation) {
    const target = findResource(schema, field.relation.resource);
    if (!target) {
      // The target is not an admin resource for this user: nothing to search, show the ids.
      return (
        <TextInput
          {...common}
          readOnly
          format={(v: unknown) => (Array.isArray(v) ? v.map(toText).join(', ') : toText(v))}
        />
      );
    }
    const autocomplete = {
      ...common,
      optionText: target.titleField,
      filterToQuery: searchFilter(target),
    };
    return field.relation.cardinality === 'toOne' ? (
      <ReferenceInput source={field.name} reference={target.path} perPage={25}>
        <AutocompleteInput {...autocomplete} emptyText="—" />
      </ReferenceInput>
    ) : (
      <ReferenceArrayInput source={field.name} reference={target.path} perPage={25}>
        <AutocompleteArrayInput {...autocomplete} />
      </ReferenceArrayInput>
    );
  }
  // Action inputs such as set-password's are not flagged write-only, but must not show what is typed.
  if (field.writeOnly || /password/i.test(field.name)) {
    return <PasswordInput {...common} autoComplete="new-password" />;
  }
  switch (field.type) {
    case 'text':
      return <TextInput {...common} multiline minRows={3} />;
    case 'integer':
      return <NumberInput {...common} step={1} />;
    case 'number':
      return <NumberInput {...common} />;
    case 'decimal':
      return <TextInput {...common} slotProps={{ htmlInput: { inputMode: 'decimal' } }} />;
    case 'boolean':
      return field.nullable ? <NullableBooleanInput {...common} /> : <BooleanInput {...common} />;
    case 'enum':
      return (
        <SelectInput
          {...common}
          choices={(field.enum ?? []).map((value) => ({ id: value, name: value }))}
          emptyText={field.nullable ? '—' : undefined}
        />
      );
    case 'date':
      return <DateInput {...common} />;
    case 'datetime':
      return <DateTimeInput {...common} />;
    case 'json':
      return (
        <TextInput
          {...common}
          multiline
          minRows={4}
          format={formatJson}
          parse={(text: string) => text}
          sx={{ '& textarea': { fontFamily: 'monospace' } }}
        />
      );
    default:
      return <TextInput {...common} />;
  }
}
