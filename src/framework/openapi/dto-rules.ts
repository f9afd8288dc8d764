import type { OpenAPIObject } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import { FieldRuleError, FieldRules, FieldType, fieldRules } from 'src/framework/fields/field-rules';
import { fieldSchema } from 'src/framework/fields/field-schema';

type Schema = Record<string, unknown>;

/**
 * The classes class-validator holds rules for. Its storage has no public list (only a lookup by class), and
 * the document only has schema names: this is the one place that reads the map behind the lookup.
 */
function validatedClasses(): Map<string, object> {
  const storage = getMetadataStorage() as unknown as { validationMetadatas?: unknown };
  const classes = new Map<string, object>();
  if (storage.validationMetadatas instanceof Map) {
    for (const target of (storage.validationMetadatas as Map<unknown, unknown>).keys()) {
      if (typeof target === 'function' && target.name) {
        classes.set(target.name, target);
      }
    }
  }
  return classes;
}

/** The field type a hand-written DTO property's schema implies. */
function typeOf(property: Schema): FieldType | undefined {
  const type = Array.isArray(property.type)
    ? (property.type as string[]).find((t) => t !== 'null')
    : property.type;
  if (property.enum) {
    return 'enum';
  }
  switch (type) {
    case 'string':
      return property.format === 'date-time' ? 'datetime' : property.format === 'date' ? 'date' : 'string';
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return undefined;
  }
}

function tightest(
  a: number | undefined,
  b: unknown,
  pick: (x: number, y: number) => number,
): number | undefined {
  return typeof b !== 'number' ? a : a === undefined ? b : pick(a, b);
}

/** The keywords the rules add to a property (type keywords and examples stay the DTO's own). */
const RULE_KEYWORDS = [
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'enum',
] as const;

function enrich(property: Schema, rules: FieldRules): void {
  if (property.type === 'array') {
    // The array's own rules (`@ArrayMaxSize`); its items' rules are written with `each`.
    property.minItems = rules.minItems ?? property.minItems;
    property.maxItems = rules.maxItems ?? property.maxItems;
    return;
  }
  const derived = fieldSchema({
    ...rules,
    // The DTO's own documented bounds count as rules too: the stricter one wins, written once.
    minimum: tightest(rules.minimum, property.minimum, Math.max),
    maximum: tightest(rules.maximum, property.maximum, Math.min),
    nullable: false,
    default: undefined,
  });
  // One bound per side (fieldSchema picked the stricter of inclusive and exclusive).
  for (const [inclusive, exclusive] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (derived[inclusive] !== undefined || derived[exclusive] !== undefined) {
      delete property[inclusive];
      delete property[exclusive];
    }
  }
  for (const keyword of RULE_KEYWORDS) {
    if (derived[keyword] !== undefined) {
      property[keyword] = derived[keyword];
    }
  }
}

/**
 * Hand-written DTOs (request bodies and queries of custom routes) get the same rules in OpenAPI as resource
 * fields: every class-validator rule on a property of a class whose schema is in the document (`@Length`,
 * `@Min`, `@Matches`, `@IsEmail`, `@ArrayMaxSize`…) becomes its JSON Schema keyword, so a DTO is written once.
 * Query parameters bound to a DTO get the same. Example: `withDtoRules(SwaggerModule.createDocument(app, config))`.
 */
export function withDtoRules(document: OpenAPIObject): void {
  const classes = validatedClasses();
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  for (const [name, schema] of Object.entries(schemas)) {
    const target = classes.get(name);
    const properties = schema.properties as Record<string, Schema> | undefined;
    if (!target || !properties) {
      continue;
    }
    for (const [property, propertySchema] of Object.entries(properties)) {
      const element =
        propertySchema.type === 'array' ? (propertySchema.items as Schema | undefined) : propertySchema;
      const type = element ? typeOf(element) : undefined;
      if (!type) {
        continue;
      }
      try {
        enrich(propertySchema, fieldRules({ type, nullable: false, custom: [] }, target, property));
      } catch (error) {
        if (error instanceof FieldRuleError) {
          throw new FieldRuleError(`NST-R011 ${name}.${property}: ${error.message}`);
        }
        throw error;
      }
    }
  }
}
