import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { AdminAction, AdminActionContext, Resource, asMoney } from 'nestor';

/**
 * `/api/products`: the catalogue. Public to read; soft-deleted products can be restored. Version 2
 * (`/api/v2/products`) shows `price` as `{ amount, currency }`; version 1, the default, is deprecated.
 */
@Resource(Product, {
  search: ['name', 'sku', 'description'],
  filter: {
    name: true,
    sku: true,
    price: true,
    stock: true,
    status: true,
    categoryId: true,
    createdAt: true,
    updatedAt: true,
    'category.slug': ['eq', 'in'],
    'category.name': ['eq', 'icontains'],
    'tags.name': ['eq', 'in'],
  },
  sort: ['name', 'sku', 'price', 'stock', 'status', 'createdAt', 'updatedAt'],
  defaultSort: '-createdAt',
  include: ['category', 'category.parent', 'tags'],
  public: ['list', 'get'],
  // Answers cached for a minute, invalidated by every write; browsers revalidate with the ETag.
  cache: { ttl: 60 },
  admin: {
    icon: 'Inventory2',
    listDisplay: ['name', 'sku', 'price', 'stock', 'status', 'categoryId'],
    helpText: { price: 'Decimal with two places, e.g. "12.50"', stock: 'Units on hand' },
    titleField: 'name',
  },
  versions: {
    1: { deprecated: '2026-12-01', sunset: '2027-06-30' },
    2: { fields: { price: asMoney('EUR') } },
  },
})
export class ProductResource {
  /** Admin action: archived products leave the shop's active catalogue but keep their history. */
  @AdminAction('archive', { confirm: 'Archive the selected products?' })
  async archive({ ids, manager }: AdminActionContext): Promise<string> {
    await manager.query(
      'UPDATE product SET status = $2, "updatedAt" = now(), version = version + 1 WHERE id = ANY($1)',
      [ids, ProductStatus.Archived],
    );
    return `${ids.length} product(s) archived`;
  }
}
