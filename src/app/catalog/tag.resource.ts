import { Tag } from 'src/app/catalog/tag.entity';
import { Resource } from 'nestor';

/** `/api/tags`: free labels on products. */
@Resource(Tag, {
  search: ['name'],
  defaultSort: 'name',
  public: ['list', 'get'],
  admin: { icon: 'LocalOffer', listDisplay: ['name'], titleField: 'name' },
})
export class TagResource {}
