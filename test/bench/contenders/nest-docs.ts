/**
 * Contender "nest-handwritten": a plain NestJS + TypeORM controller written the way the NestJS docs teach
 * (TypeOrmModule.forRoot/forFeature, a repository service, DTOs with a global ValidationPipe). It uses the
 * Fastify adapter because @nestjs/platform-express is not installed. Same entities as the shop.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  Injectable,
  Module,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
  Query,
  ValidationPipe,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { MoreThanOrEqual, Repository } from 'typeorm';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { CreateProductDto, ListProductsQuery } from 'test/bench/contenders/create-product.dto';

@Injectable()
class ProductsService {
  constructor(@InjectRepository(Product) private readonly products: Repository<Product>) {}

  findOne(id: number): Promise<Product | null> {
    return this.products.findOneBy({ id });
  }

  async findAll(
    query: ListProductsQuery,
  ): Promise<{ data: Product[]; total: number; page: number; limit: number }> {
    const limit = query.limit ?? 20;
    const page = query.page ?? 1;
    const sort = query.sort ?? '-createdAt';
    const direction = sort.startsWith('-') ? 'DESC' : 'ASC';
    const [data, total] = await this.products.findAndCount({
      where: query.minPrice !== undefined ? { price: MoreThanOrEqual(query.minPrice) } : {},
      order: { [sort.replace(/^-/, '')]: direction, id: direction },
      relations: query.include === 'category' ? { category: true } : {},
      take: limit,
      skip: (page - 1) * limit,
    });
    return { data, total, page, limit };
  }

  create(dto: CreateProductDto): Promise<Product> {
    return this.products.save(this.products.create(dto));
  }
}

@Controller('products')
class ProductsController {
  constructor(private readonly productsService: ProductsService) {}

  @Get()
  findAll(@Query() query: ListProductsQuery) {
    return this.productsService.findAll(query);
  }

  @Get(':id')
  async findOne(@Param('id', ParseIntPipe) id: number): Promise<Product> {
    const product = await this.productsService.findOne(id);
    if (!product) {
      throw new NotFoundException(`Product #${id} not found`);
    }
    return product;
  }

  @Post()
  create(@Body() dto: CreateProductDto): Promise<Product> {
    return this.productsService.create(dto);
  }
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
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.stdout.write(`nest-handwritten listening on ${process.env.PORT}\n`);
}
void bootstrap();
