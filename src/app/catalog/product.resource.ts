import { Product } from 'src/app/catalog/product.entity';
import { Resource } from 'src/framework/resource/resource.decorator';

/** `/api/products`: the catalogue. Public to read; soft-deleted products can be restored. */
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
  admin: {
    listColumns: ['name', 'sku', 'price', 'stock', 'status', 'categoryId'],
    labels: { sku: 'SKU' },
    helpText: { price: 'Decimal with two places, e.g. "12.50"', stock: 'Units on hand' },
    titleField: 'name',
  },
})
export class ProductResource {}
