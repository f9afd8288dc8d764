import { Module } from '@nestjs/common';
import { CategoryResource } from 'src/app/catalog/category.resource';
import { ProductResource } from 'src/app/catalog/product.resource';
import { TagResource } from 'src/app/catalog/tag.resource';
import { ResourceModule } from 'src/framework/resource/resource.module';

@Module({ imports: [ResourceModule.forFeature([CategoryResource, TagResource, ProductResource])] })
export class CatalogModule {}
