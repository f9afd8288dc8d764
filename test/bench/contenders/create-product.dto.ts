import { Type } from 'class-transformer';
import {
  IsEnum,
  IsIn,
  IsInt,
  IsNumberString,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { ProductStatus } from 'src/app/catalog/product.entity';

/** The create body as the NestJS docs teach it: a DTO class with class-validator decorators. */
export class CreateProductDto {
  @IsString()
  @Length(1, 200)
  name!: string;

  @Matches(/^[A-Z0-9][A-Z0-9-]*$/)
  @MaxLength(64)
  sku!: string;

  @IsOptional()
  @IsString()
  @MaxLength(10000)
  description?: string | null;

  @Matches(/^\d{1,8}(\.\d{1,2})?$/)
  price!: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  stock?: number;

  @IsOptional()
  @IsEnum(ProductStatus)
  status?: ProductStatus;

  @IsInt()
  @Min(1)
  categoryId!: number;
}

/** `GET /products` query, docs style: typed with class-transformer, validated by the global ValidationPipe. */
export class ListProductsQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  page?: number;

  @IsOptional()
  @IsNumberString()
  minPrice?: string;

  @IsOptional()
  @IsIn(['price', '-price', 'createdAt', '-createdAt'])
  sort?: string;

  @IsOptional()
  @IsIn(['category'])
  include?: string;
}
