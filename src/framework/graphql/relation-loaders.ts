import DataLoader from 'dataloader';
import type { Principal } from 'src/framework/access/principal';
import { type IncludeScope, type Queryable, relatedRows } from 'src/framework/resource/include-loader';
import { withoutHelpers } from 'src/framework/resource/resource-rows';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import type { RelationField } from 'src/framework/graphql/resource-types';

/**
 * One request's relation loaders (DataLoader): every parent row asking for the same relation in one tick
 * is answered by one statement (`relatedRows`, REST's include loader), so a page costs one query per
 * relation level whatever its size. Owned targets are limited to the caller's rows, as REST's includes.
 * Example: `new RelationLoaders(dataSource, scope, principal).load(row, relation)`.
 */
export class RelationLoaders {
  private readonly loaders = new Map<RelationField, DataLoader<unknown, ResourceRow[], string>>();

  constructor(
    private readonly manager: Queryable,
    private readonly scope: IncludeScope,
    private readonly principal: Principal | undefined,
  ) {}

  /** The related rows of `parent` (none when its key is null). */
  load(parent: ResourceRow, relation: RelationField): Promise<ResourceRow[]> {
    const key = parent[relation.keyField];
    if (key === null || key === undefined) {
      return Promise.resolve([]);
    }
    return this.loaderOf(relation).load(key);
  }

  private loaderOf(relation: RelationField): DataLoader<unknown, ResourceRow[], string> {
    let loader = this.loaders.get(relation);
    if (!loader) {
      loader = new DataLoader<unknown, ResourceRow[], string>(
        async (keys) => {
          const rows = await relatedRows(
            this.manager,
            this.scope,
            relation.relation,
            [...keys],
            [],
            this.principal,
          );
          const byOwner = new Map<string, ResourceRow[]>();
          for (const row of rows) {
            const owner = String(row.__owner);
            const found = byOwner.get(owner) ?? [];
            found.push(withoutHelpers(row));
            byOwner.set(owner, found);
          }
          return keys.map((key) => byOwner.get(String(key)) ?? []);
        },
        // Keys compare as text: an integer key read as a number from one row and as a string from a join.
        { cacheKeyFn: (key) => String(key), maxBatchSize: 1000 },
      );
      this.loaders.set(relation, loader);
    }
    return loader;
  }
}
