import type { EntityMetadata } from 'typeorm';

/** A double-quoted SQL identifier. Example: `ident('isStaff')` → `"isStaff"`. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The entity's table, schema-qualified when it has one. Example: `tableOf(metadata)` → `"public"."product"`. */
export function tableOf(metadata: EntityMetadata): string {
  return metadata.tablePath.split('.').map(ident).join('.');
}
