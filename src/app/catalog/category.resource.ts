import { Category } from 'src/app/catalog/category.entity';
import { Resource } from 'nestor';

/** `/api/categories`: public to read; nested through `parent`. */
@Resource(Category, {
  search: ['name', 'slug'],
  filter: { name: true, slug: true, parentId: true, 'parent.slug': ['eq', 'in'] },
  sort: ['name', 'slug', 'createdAt'],
  defaultSort: 'name',
  include: ['parent'],
  public: ['list', 'get'],
  cache: { ttl: 300, maxAge: 30 },
  admin: { icon: 'Category', listDisplay: ['name', 'slug', 'parentId'], titleField: 'name' },
})
export class CategoryResource {}
