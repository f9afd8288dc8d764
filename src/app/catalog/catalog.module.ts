import { Module } from '@nestjs/common';
import { CatalogJobs } from 'src/app/catalog/catalog.jobs';
import { CategoryResource } from 'src/app/catalog/category.resource';
import { ProductResource } from 'src/app/catalog/product.resource';
import { TagResource } from 'src/app/catalog/tag.resource';
import { ResourceModule } from 'nestor';

@Module({
  imports: [ResourceModule.forFeature([CategoryResource, TagResource, ProductResource])],
  providers: [CatalogJobs],
})
export class CatalogModule {}
