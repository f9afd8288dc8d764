import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';

@Module({ imports: [TypeOrmModule.forFeature([Category, Tag, Product])], exports: [TypeOrmModule] })
export class CatalogModule {}
