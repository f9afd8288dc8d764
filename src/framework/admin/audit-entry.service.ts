import { Injectable } from '@nestjs/common';
import { Principal, can } from 'src/framework/access/principal';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import type { ListQuery, Trashed } from 'src/framework/resource/query-types';
import { ident, tableOf } from 'src/framework/database/sql';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import { ListRequest, ListResult, ResourceService } from 'src/framework/resource/resource.service';
import type { ResourceRegistry } from 'src/framework/resource/resource.registry';

/**
 * The resource paths whose history a caller may read: those they may view (`<path>.view`). Undefined
 * means every entry (superusers), including entries of resources that no longer exist.
 */
export function visibleAuditResources(
  registry: ResourceRegistry,
  principal: Principal | undefined,
): string[] | undefined {
  if (principal?.isSuperuser) {
    return undefined;
  }
  return registry
    .all()
    .map((definition) => definition.path)
    .filter((path) => can(principal, `${path}.view`));
}

/**
 * The audit log's service: a staff member reads the history of the resources they may view
 * (`<path>.view`) and nothing else, so the log never shows what the records themselves would hide from
 * them. Superusers read every entry.
 */
@Injectable()
export class AuditEntryService extends ResourceService {
  override list(query: ListQuery, request: ListRequest, principal?: Principal): Promise<ListResult> {
    const visible = visibleAuditResources(this.registry, principal);
    if (visible === undefined) {
      return super.list(query, request, principal);
    }
    const scoped = [...query.filters, { path: 'resource', op: 'in' as const, value: visible }];
    return super.list({ ...query, filters: scoped }, request, principal);
  }

  override async get(
    id: unknown,
    options: { fields?: string[]; include?: string[]; principal?: Principal; trashed?: Trashed } = {},
  ): Promise<{ row: ResourceRow; etag: string }> {
    const visible = visibleAuditResources(this.registry, options.principal);
    if (visible !== undefined) {
      const { metadata } = this.definition;
      const [entry] = await this.dataSource.query<{ resource: string }[]>(
        `SELECT ${ident(metadata.findColumnWithPropertyName('resource')!.databaseName)} AS resource FROM ${tableOf(
          metadata,
        )} WHERE ${ident(this.definition.id.column!.databaseName)} = $1`,
        [id],
      );
      if (entry && !visible.includes(entry.resource)) {
        // As for any row the caller may not see: it does not exist for them.
        throw new ProblemException({
          type: PROBLEM_TYPES.notFound,
          title: 'Not Found',
          status: 404,
          detail: `No ${this.definition.name} with id ${String(id)}.`,
        });
      }
    }
    return super.get(id, options);
  }
}
