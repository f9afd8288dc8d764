/**
 * The admin schema contract (`GET /admin/api/schema`, version 1; admin/README.md), shared by the server and
 * the admin UI (admin/src/schema.ts re-exports it): one definition, so the two cannot drift apart.
 * Types only (the icon names live with the resource options that pick one): the UI's build imports nothing
 * else from the server.
 */

import type { AdminIcon } from 'src/framework/resource/admin-icons';

export type { AdminIcon };

export type AdminFieldType =
  | 'string'
  | 'text'
  | 'integer'
  | 'number'
  | 'decimal'
  | 'boolean'
  | 'enum'
  | 'date'
  | 'datetime'
  | 'json'
  | 'uuid'
  | 'relation';

export interface AdminUser {
  id: number;
  email: string;
  isStaff: boolean;
  isSuperuser: boolean;
}

/** One field as the admin renders it. */
export interface AdminField {
  name: string;
  label: string;
  type: AdminFieldType;
  required: boolean;
  readOnly: boolean;
  writeOnly: boolean;
  nullable: boolean;
  enum: string[] | null;
  min: number | null;
  max: number | null;
  minLength: number | null;
  maxLength: number | null;
  /** An ECMA-262 pattern (no flags) the value must match. */
  pattern: string | null;
  /** What the pattern means, for people ("a decimal ≥ 0 with at most 8 digits before the point…"). */
  patternMessage: string | null;
  helpText: string | null;
  relation: { resource: string; cardinality: 'toOne' | 'toMany' } | null;
}

/** An `@AdminAction` the current user may run. */
export interface AdminAction {
  name: string;
  label: string;
  permission: string;
  bulk: boolean;
  confirm: string | null;
  job: boolean;
  input: AdminField[] | null;
}

export type ResourcePermission = 'view' | 'add' | 'change' | 'delete';

export interface AdminListFilter {
  field: string;
  label: string;
  type: AdminFieldType;
  operators: string[];
}

/**
 * A one-to-many child listed on the parent's show and edit pages (Django's `TabularInline`): the rows of
 * `GET /api/<resource>?filter[<fkField>]=<parent id>`, with `fields` as columns. Read-only in version 1.
 */
export interface AdminInline {
  resource: string;
  fkField: string;
  label: string;
  fields: string[];
  ordering: string | null;
}

/** One resource, with what the current user may do with it. */
export interface AdminResource {
  name: string;
  path: string;
  label: string;
  labelSingular: string;
  icon: AdminIcon;
  primaryKey: string;
  titleField: string;
  fields: AdminField[];
  listDisplay: string[];
  searchFields: string[];
  listFilter: AdminListFilter[];
  sortable: string[];
  ordering: string | null;
  fieldsets: { title: string | null; fields: string[] }[];
  autocompleteFields: string[];
  softDelete: boolean;
  readOnly: boolean;
  inlines: AdminInline[];
  actions: AdminAction[];
  permissions: Record<ResourcePermission, boolean>;
}

export interface AdminSchema {
  version: 1;
  user: AdminUser;
  resources: AdminResource[];
}
