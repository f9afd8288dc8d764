/**
 * Contender "peer": @dataui/crud (the maintained fork of @nestjsx/crud) with @dataui/crud-typeorm on the
 * shop's Product entity, set up as its README shows, on NestJS + Fastify. Its own query syntax:
 * `?filter=price||$gte||10&sort=price,DESC&limit=20&join=category`.
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Crud, CrudController } from '@dataui/crud';
import { TypeOrmCrudService } from '@dataui/crud-typeorm';
import { Repository } from 'typeorm';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { CreateProductDto } from 'test/bench/contenders/create-product.dto';

@Injectable()
class ProductsService extends TypeOrmCrudService<Product> {
  constructor(@InjectRepository(Product) repo: Repository<Product>) {
    super(repo);
  }
}

@Crud({
  model: { type: Product },
  dto: { create: CreateProductDto },
  query: { join: { category: {} }, maxLimit: 100, alwaysPaginate: true },
  routes: { only: ['getOneBase', 'getManyBase', 'createOneBase'] },
})
@Controller('products')
class ProductsController implements CrudController<Product> {
  constructor(public service: ProductsService) {}
}

@Controller('health')
class HealthController {
  @Get('live')
  live() {
    return { status: 'ok' };
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      entities: [Product, Category, Tag],
      synchronize: false,
    }),
    TypeOrmModule.forFeature([Product]),
  ],
  controllers: [ProductsController, HealthController],
  providers: [ProductsService],
})
class AppModule {}

async function bootstrap() {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
    logger: ['error', 'warn'],
  });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.stdout.write(`peer listening on ${process.env.PORT}\n`);
}
void bootstrap();
