import {
  AutocompleteInput,
  DateInput,
  NullableBooleanInput,
  NumberInput,
  ReferenceInput,
  SearchInput,
  SelectInput,
  TextInput,
} from 'react-admin';
import { OP } from '../api/query';
import {
  type AdminListFilter,
  type AdminResource,
  type AdminSchema,
  findField,
  findResource,
} from '../schema';
import { searchFilter } from './inputs';

function rangeInputs(filter: AdminListFilter, label: string, type: 'date' | 'number' | 'text') {
  const Input = type === 'date' ? DateInput : type === 'number' ? NumberInput : TextInput;
  const bounds = [
    ['gte', type === 'date' ? 'from' : 'min'],
    ['lte', type === 'date' ? 'to' : 'max'],
  ].filter(([op]) => filter.operators.includes(op));
  if (bounds.length === 0) {
    return [<Input key={filter.field} source={filter.field} label={label} />];
  }
  return bounds.map(([op, word]) => (
    <Input
      key={`${filter.field}${OP}${op}`}
      source={`${filter.field}${OP}${op}`}
      label={`${label} (${word})`}
    />
  ));
}

function filterInputs(filter: AdminListFilter, resource: AdminResource, schema: AdminSchema) {
  const field = findField(resource, filter.field);
  const label = filter.label;
  const target = field?.relation ? findResource(schema, field.relation.resource) : undefined;
  if (target && field?.relation?.cardinality === 'toOne') {
    return [
      <ReferenceInput key={filter.field} source={filter.field} reference={target.path} perPage={25}>
        <AutocompleteInput
          label={label}
          optionText={target.titleField}
          filterToQuery={searchFilter(target)}
        />
      </ReferenceInput>,
    ];
  }
  switch (filter.type) {
    case 'boolean':
      return [<NullableBooleanInput key={filter.field} source={filter.field} label={label} />];
    case 'enum':
      return field?.enum
        ? [
            <SelectInput
              key={filter.field}
              source={filter.field}
              label={label}
              choices={field.enum.map((value) => ({ id: value, name: value }))}
            />,
          ]
        : [<TextInput key={filter.field} source={filter.field} label={label} />];
    case 'date':
    case 'datetime':
      return rangeInputs(filter, label, 'date');
    case 'integer':
    case 'number':
      return rangeInputs(filter, label, 'number');
    case 'decimal':
      return rangeInputs(filter, label, 'text');
    default: {
      const op = ['icontains', 'contains', 'startswith'].find((o) => filter.operators.includes(o));
      const source = op ? `${filter.field}${OP}${op}` : filter.field;
      return [<TextInput key={source} source={source} label={label} />];
    }
  }
}

/** The list's filters: a search box when the resource has search fields, then one input per filter. */
export function filtersFor(resource: AdminResource, schema: AdminSchema) {
  const search =
    resource.searchFields.length > 0
      ? [
          <SearchInput
            key="q"
            source="q"
            alwaysOn
            slotProps={{ htmlInput: { 'aria-label': `Search ${resource.label.toLowerCase()}` } }}
          />,
        ]
      : [];
  return [...search, ...resource.listFilter.flatMap((filter) => filterInputs(filter, resource, schema))];
}
