import { columnRules } from 'src/framework/fields/field-rules';
import { JsonSchema, fieldSchema } from 'src/framework/fields/field-schema';
import { DECIMAL_PATTERN, INTEGER_RANGES } from 'src/framework/fields/formats';
import { MAX_CURSOR_LENGTH } from 'src/framework/resource/query/cursors';
import { MAX_LIST_ITEMS, MAX_VALUE_LENGTH } from 'src/framework/resource/query/filters';
import { MAX_SEARCH_LENGTH } from 'src/framework/resource/query/list-query-parser';
import type { FieldSpec, FilterOperator } from 'src/framework/resource/query-types';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';

type Parameter = Record<string, unknown>;

/** `in`, `nin` and `between` take comma-separated lists: OpenAPI's `form` style without explode. */
const LIST_OPERATORS: ReadonlySet<FilterOperator> = new Set(['in', 'nin', 'between']);

const OPERATOR_WORDS: Record<FilterOperator, string> = {
  eq: 'equals',
  ne: 'differs from',
  gt: 'is greater than',
  gte: 'is at least',
  lt: 'is less than',
  lte: 'is at most',
  in: 'is one of',
  nin: 'is none of',
  contains: 'contains (case-sensitive)',
  icontains: 'contains (any case)',
  startswith: 'starts with',
  isnull: 'is null (true) or not (false)',
  between: 'is between the two values (inclusive)',
};

function query(name: string, description: string, schema: JsonSchema, list = false): Parameter {
  return {
    name,
    in: 'query',
    required: false,
    description,
    ...(list ? { style: 'form', explode: false } : {}),
    schema,
  };
}

/**
 * The schema of one filter value of a field, as the query string writes it: the column's type and format
 * (decimals in plain digits of any length, the query being no write), bounded like every query value.
 */
function filterValueSchema(definition: ResourceDefinition, path: string, spec: FieldSpec): JsonSchema {
  const column = definition.paths.get(path)?.column;
  const base = column ? columnRules(column, spec.type) : { type: spec.type, nullable: false, custom: [] };
  const rules = {
    ...base,
    nullable: false,
    default: undefined,
    enum: spec.enumValues,
    // A filter compares: a longer text than the column holds, or a decimal with more digits, simply matches nothing.
    maxLength: ['string', 'text', 'decimal'].includes(spec.type) ? MAX_VALUE_LENGTH : undefined,
    pattern: spec.type === 'decimal' ? DECIMAL_PATTERN : base.pattern,
    // A serial key's ids start at 1, but `filter[id][gt]=0` is a fair question: the type's own bounds.
    ...(spec.type === 'integer' ? INTEGER_RANGES[spec.integerFormat ?? 'int32'] : {}),
    precision: undefined,
    scale: undefined,
  };
  const { example: _example, ...schema } = fieldSchema(rules);
  if (spec.type === 'datetime') {
    return { ...schema, pattern: undefined, description: 'An ISO 8601 date-time with an offset, or a date' };
  }
  return schema;
}

/**
 * One query parameter per allowed filter: `filter[status]` (equality) and `filter[price][gte]`, so that
 * every generator (and Swagger UI) can send them without a custom serializer; none has an example, so a
 * client that sends the defaults sends no filter.
 */
export function filterParameters(definition: ResourceDefinition): Parameter[] {
  const parameters: Parameter[] = [];
  for (const [path, { field, operators }] of definition.query.filterable) {
    const value = JSON.parse(JSON.stringify(filterValueSchema(definition, path, field))) as JsonSchema;
    for (const op of operators) {
      const name = op === 'eq' ? `filter[${path}]` : `filter[${path}][${op}]`;
      const description = `${path} ${OPERATOR_WORDS[op]}`;
      if (op === 'isnull') {
        parameters.push(query(name, description, { type: 'boolean' }));
      } else if (LIST_OPERATORS.has(op)) {
        const between = op === 'between';
        const schema = {
          type: 'array',
          items: value,
          minItems: between ? 2 : 1,
          maxItems: between ? 2 : MAX_LIST_ITEMS,
        };
        parameters.push(query(name, `${description} (comma-separated)`, schema, true));
      } else {
        parameters.push(query(name, description, value));
      }
    }
  }
  return parameters;
}

/** `sort`, `fields` and `include` as comma-separated lists of their allowed values (typed in clients). */
function choiceList(name: string, description: string, values: string[]): Parameter {
  return query(
    name,
    description,
    {
      type: 'array',
      items: { type: 'string', enum: values },
      uniqueItems: true,
      minItems: 1,
      maxItems: values.length,
    },
    true,
  );
}

export function fieldsParameter(definition: ResourceDefinition): Parameter {
  return choiceList(
    'fields',
    'Only these fields (id always comes too); the answer is then `application/vnd.nestor.sparse+json`',
    [...definition.query.selectable.keys()],
  );
}

export function includeParameter(definition: ResourceDefinition): Parameter | undefined {
  const includable = [...definition.query.includable];
  return includable.length === 0
    ? undefined
    : choiceList('include', 'Related rows to embed (nested with a dot, at most 2 levels)', includable);
}

export function trashedParameter(definition: ResourceDefinition): Parameter | undefined {
  return definition.deleteDateColumn
    ? query(
        'trashed',
        `Soft-deleted rows: only them (only), or with the live ones (with). Needs ${definition.path}.change`,
        { type: 'string', enum: ['only', 'with'] },
      )
    : undefined;
}

/** The list operation's parameters: pagination, sort, one per filter, search, fields, include, trash. */
export function listParameters(definition: ResourceDefinition): Parameter[] {
  const { query: spec } = definition;
  const sortValues = [...spec.sortable.keys()].flatMap((path) => [path, `-${path}`]);
  const defaultSort = spec.defaultSort.map((t) => (t.direction === 'desc' ? `-${t.path}` : t.path)).join(',');
  return [
    query('page', '1-based page number', {
      type: 'integer',
      format: 'int64',
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      example: 1,
    }),
    query(
      'limit',
      `Page size; larger values are clamped to ${spec.maxLimit} (meta.limit says what was used)`,
      { type: 'integer', format: 'int32', minimum: 1, maximum: spec.maxLimit, default: spec.defaultLimit },
    ),
    query('after', 'Keyset cursor: `meta.nextCursor` of the previous page (keep its sort and filters)', {
      type: 'string',
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      pattern: '^[A-Za-z0-9_-]+$',
    }),
    {
      ...choiceList(
        'sort',
        `Sort terms, "-" for descending; ties by id. Default: ${defaultSort}`,
        sortValues,
      ),
      // Ascending and descending of one field cannot be combined, so at most one term per field.
      schema: {
        type: 'array',
        items: { type: 'string', enum: sortValues },
        uniqueItems: true,
        minItems: 1,
        maxItems: spec.sortable.size,
      },
    },
    ...filterParameters(definition),
    ...(spec.searchable
      ? [
          query('q', `Case-insensitive search in ${definition.search.map((s) => s.spec.path).join(', ')}`, {
            type: 'string',
            minLength: 1,
            maxLength: MAX_SEARCH_LENGTH,
          }),
        ]
      : []),
    fieldsParameter(definition),
    ...[includeParameter(definition), trashedParameter(definition)].filter((p) => p !== undefined),
  ];
}
