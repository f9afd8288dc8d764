import { ApiProperty } from '@nestjs/swagger';
import { IsEnum, IsInt, IsOptional, IsString, Matches, MaxLength, Min, MinLength } from 'class-validator';
import {
  Check,
  Column,
  CreateDateColumn,
  DeleteDateColumn,
  Entity,
  Index,
  JoinColumn,
  JoinTable,
  ManyToMany,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';
import { Category } from 'src/app/catalog/category.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { DecimalMin } from 'nestor';

export enum ProductStatus {
  Draft = 'draft',
  Active = 'active',
  Archived = 'archived',
}

/** A product for sale. Prices are decimal strings ("12.50"): exact, never floating point. */
@Entity('product')
@Check('CHK_product_price_not_negative', '"price" >= 0')
@Check('CHK_product_stock_not_negative', '"stock" >= 0')
export class Product {
  @PrimaryGeneratedColumn()
  id!: number;

  @ApiProperty({ example: 'Espresso cup' })
  @Column({ type: 'varchar', length: 200 }) // the column's length is the rule's maximum too
  @IsString()
  @MinLength(1)
  name!: string;

  @ApiProperty({ example: 'CUP-001' })
  @Column({ type: 'varchar', length: 64, unique: true })
  @Matches(/^[A-Z0-9][A-Z0-9-]*$/, { message: 'sku must be uppercase letters, digits and hyphens' })
  sku!: string;

  @ApiProperty({ example: 'Porcelain, 90 ml' })
  @Column({ type: 'text', nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(10000)
  description!: string | null;

  @Index()
  // A decimal string ("12.50"); numbers are accepted on input and stored exactly. The column's precision
  // and scale bound its digits.
  @Column({ type: 'numeric', precision: 10, scale: 2 })
  @DecimalMin('0')
  price!: string;

  @Column({ type: 'int', default: 0 })
  @IsInt()
  @Min(0)
  stock!: number;

  @ApiProperty({ example: ProductStatus.Active }) // the status that puts a product on sale
  @Column({ type: 'enum', enum: ProductStatus, enumName: 'product_status', default: ProductStatus.Draft })
  @IsEnum(ProductStatus)
  status!: ProductStatus;

  @ManyToOne(() => Category, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'categoryId' })
  category!: Category;

  @Index()
  @Column({ type: 'int' })
  categoryId!: number;

  @ManyToMany(() => Tag)
  @JoinTable({
    name: 'product_tags',
    joinColumn: { name: 'productId' },
    inverseJoinColumn: { name: 'tagId' },
  })
  tags!: Tag[];

  @Index()
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @VersionColumn()
  version!: number;

  @DeleteDateColumn({ type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
