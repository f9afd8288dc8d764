import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';
import { checkAdminOptions } from 'src/framework/resource/definition/check-admin-options';
import type { ResourceQuerySpec } from 'src/framework/resource/query-types';
import {
  DefinitionContext,
  ResourceDeclarationError,
  ResourceDefinition,
  ResourceField,
} from 'src/framework/resource/definition/definition-types';
import { resolveActions, resolveSoftDelete } from 'src/framework/resource/definition/resolve-actions';
import { resolveCache } from 'src/framework/resource/definition/resolve-cache';
import { resolveFields, resolveOwner } from 'src/framework/resource/definition/resolve-fields';
import { pathResolver } from 'src/framework/resource/definition/resolve-paths';
import { resolveLimits, resolveQueryOptions } from 'src/framework/resource/definition/resolve-query';
import { resolveVersions } from 'src/framework/resource/definition/resolve-versions';
import {
  ResourceDeclaration,
  ResourceHooks,
  defaultResourcePath,
} from 'src/framework/resource/resource.decorator';

export {
  MAX_IDS,
  ResourceDeclarationError,
  holdsList,
  type FieldPath,
  type ResourceDefinition,
  type ResourceField,
  type ResourceVersion,
} from 'src/framework/resource/definition/definition-types';

const PATH_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** The entity has one primary column, and option `path` is kebab-case (default: from the entity's name). */
function resolvePath(context: DefinitionContext): string {
  const { metadata, options, fail } = context;
  if (metadata.primaryColumns.length !== 1) {
    fail('NST-R006', `entity ${metadata.name} must have exactly one primary column`);
  }
  const path = options.path ?? defaultResourcePath(metadata.name);
  if (!PATH_RE.test(path)) {
    fail('NST-R007', `option "path" must be kebab-case like "order-items", got "${path}"`);
  }
  return path;
}

/**
 * Resolves one declaration against the entity's metadata and checks every option (NST-R001…R015).
 * Each step resolves one option, in the order the checks report: the first bad option stops boot.
 * Example: `resolveResource(ProductResource, declaration, dataSource.getMetadata(Product), hooks)`.
 */
export function resolveResource(
  className: string,
  declaration: ResourceDeclaration,
  metadata: EntityMetadata,
  hooks: ResourceHooks,
): ResourceDefinition {
  const { options } = declaration;
  const fail = (code: string, message: string): never => {
    throw new ResourceDeclarationError(code, `${className}: ${message}`);
  };
  const context: DefinitionContext = { className, metadata, options, fail };
  const path = resolvePath(context);
  const fields = resolveFields(context);
  const id = fields.get(metadata.primaryColumns[0].propertyName)!;
  const owner = resolveOwner(context, fields);
  const { paths, resolvePath: resolveFieldPath } = pathResolver(context, fields);
  const queryOptions = resolveQueryOptions(context, fields, id, resolveFieldPath);
  const softDelete = resolveSoftDelete(context);
  const { actions, publicActions } = resolveActions(context, softDelete);
  const { defaultLimit, maxLimit } = resolveLimits(context);
  checkAdminOptions(context, { fields, ...queryOptions });
  const versions = resolveVersions(context, fields);
  const cache = resolveCache(context, actions);

  const readable = [...fields.values()].filter((f) => f.readable);
  return {
    className,
    name: metadata.name,
    path,
    metadata,
    options,
    hooks,
    fields,
    id,
    readable,
    writable: new Map([...fields].filter(([, f]) => f.writable)),
    paths,
    search: queryOptions.search,
    relations: new Map(metadata.relations.map((r) => [r.propertyName, r])),
    owner,
    deleteDateColumn: softDelete ? metadata.deleteDateColumn : undefined,
    versionColumn: metadata.versionColumn,
    actions,
    publicActions,
    versions,
    cache,
    query: querySpec(metadata, readable, id, queryOptions, { softDelete, defaultLimit, maxLimit }),
  };
}

/** What the query language may select, filter, sort and include on this resource, with its page limits. */
function querySpec(
  metadata: EntityMetadata,
  readable: ResourceField[],
  id: ResourceField,
  queryOptions: ReturnType<typeof resolveQueryOptions>,
  limits: { softDelete: boolean; defaultLimit: number; maxLimit: number },
): ResourceQuerySpec {
  return {
    name: metadata.name,
    selectable: new Map(readable.map((f) => [f.name, { path: f.name, type: f.type, nullable: f.nullable }])),
    filterable: queryOptions.filterable,
    sortable: queryOptions.sortable,
    defaultSort: queryOptions.defaultSort,
    includable: queryOptions.includable,
    searchable: queryOptions.search.length > 0,
    softDelete: limits.softDelete,
    idPath: id.name,
    idField: queryOptions.sortable.get(id.name)!,
    defaultLimit: limits.defaultLimit,
    maxLimit: limits.maxLimit,
  };
}
