import { defaultResourcePath } from 'src/framework/resource/resource.decorator';

/** Words of an identifier in any common spelling: `OrderItem`, `order-item`, `order_item`, `orderItem`. */
export function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
}

/** `order-item` → `OrderItem`. */
export function pascalCase(name: string): string {
  return words(name)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join('');
}

/** `order-item` → `orderItem`. */
export function camelCase(name: string): string {
  const pascal = pascalCase(name);
  return pascal ? pascal[0].toLowerCase() + pascal.slice(1) : '';
}

/** `OrderItem` → `order-item`. */
export function kebabCase(name: string): string {
  return words(name).join('-');
}

/** `OrderItem` → `order_item`: table, enum type and join table names, as the shop's entities use. */
export function snakeCase(name: string): string {
  return words(name).join('_');
}

/** `tags` → `tag`, `categories` → `category`: the inverse of the framework's pluralisation. */
export function singular(name: string): string {
  if (/[^aeiou]ies$/.test(name)) {
    return `${name.slice(0, -3)}y`;
  }
  if (/(ss|x|z|ch|sh)es$/.test(name)) {
    return name.slice(0, -2);
  }
  return name.endsWith('s') && !name.endsWith('ss') ? name.slice(0, -1) : name;
}

/** Every name a resource needs, derived from its entity class name like the shop's `Product`. */
export interface ResourceNames {
  /** `OrderItem` */
  entity: string;
  /** `orderItem` */
  variable: string;
  /** `order-item` (file names) */
  file: string;
  /** `order_item` */
  table: string;
  /**
   * `order-items`: the folder, the module's file and the URL path. The framework's own pluralisation, so the
   * folder always matches the route `@Resource` derives.
   */
  plural: string;
  /** `OrderItems` */
  pluralPascal: string;
  /** `order items`, for prose */
  humanPlural: string;
  /** `order item`, for prose */
  human: string;
}

export function resourceNames(entity: string): ResourceNames {
  const plural = defaultResourcePath(entity);
  return {
    entity,
    variable: camelCase(entity),
    file: kebabCase(entity),
    table: snakeCase(entity),
    plural,
    pluralPascal: pascalCase(plural),
    humanPlural: plural.replace(/-/g, ' '),
    human: words(entity).join(' '),
  };
}

/** TypeScript's reserved words: not usable as a class, enum member or variable name. */
export const RESERVED_WORDS = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false ' +
    'finally for function if import in instanceof new null return super switch this throw true try typeof ' +
    'var void while with as implements interface let package private protected public static yield await'
  ).split(' '),
);
