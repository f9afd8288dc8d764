import { Body, Controller, DynamicModule, Get, Module, Post, Query } from '@nestjs/common';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { Repository } from 'typeorm';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { LoadedConfig } from 'src/framework/config/load-config';
import { Public } from 'src/framework/access/auth.decorators';

class CreateCategoryDto {
  @IsString()
  @Length(1, 120)
  name!: string;

  @IsString()
  @Length(1, 120)
  slug!: string;
}

class ListQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

/** Adds the fixture routes to the app's composition. */
export function withFixtures(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), FixturesModule] };
}

/** Routes that exist only in e2e tests, to drive the framework's error paths through real handlers. */
@Public()
@Controller('test-fixtures')
class FixturesController {
  constructor(@InjectRepository(Category) private readonly categories: Repository<Category>) {}

  @Post('categories')
  create(@Body() body: CreateCategoryDto): Promise<Category> {
    return this.categories.save(this.categories.create(body));
  }

  @Get('categories')
  list(@Query() query: ListQueryDto): Promise<Category[]> {
    return this.categories.find({ take: query.limit ?? 20, order: { id: 'ASC' } });
  }

  @Post('categories/with-missing-parent')
  async missingParent(): Promise<void> {
    await this.categories.query(
      'CREATE TABLE IF NOT EXISTS fixture_child (parent int REFERENCES category(id))',
    );
    await this.categories.query('INSERT INTO fixture_child (parent) VALUES (999999)');
  }

  /** Read-then-write inside one transaction: interleaved transactions would collide on the unique name. */
  @Post('categories/next')
  next(): Promise<Category> {
    return this.categories.manager.transaction(async (manager) => {
      const count = await manager.count(Category);
      await new Promise((resolve) => setTimeout(resolve, 3));
      return manager.save(manager.create(Category, { name: `c${count}`, slug: `c${count}` }));
    });
  }

  @Get('boom')
  boom(): never {
    throw new Error('secret internals: SELECT * FROM users');
  }

  @Get('bad-sql')
  async badSql(): Promise<void> {
    await this.categories.query('SELECT no_such_column FROM category');
  }
}

@Module({ imports: [TypeOrmModule.forFeature([Category])], controllers: [FixturesController] })
export class FixturesModule {}
