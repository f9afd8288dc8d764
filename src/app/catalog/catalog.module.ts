import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Category } from 'src/app/catalog/category.entity';

@Module({ imports: [TypeOrmModule.forFeature([Category])], exports: [TypeOrmModule] })
export class CatalogModule {}
