import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { IsSlug } from 'nestor';

/** A shop category; categories nest through an optional parent. */
@Entity('category')
export class Category {
  @PrimaryGeneratedColumn()
  id!: number;

  @ApiProperty({ example: 'Kitchen' })
  @Column({ type: 'varchar', length: 120, unique: true })
  @IsString()
  @MinLength(1)
  name!: string;

  @ApiProperty({ example: 'kitchen' })
  @Column({ type: 'varchar', length: 120, unique: true })
  @IsSlug()
  slug!: string;

  @ApiProperty({ example: 'Everything for the kitchen' })
  @Column({ type: 'text', nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(5000)
  description!: string | null;

  @ManyToOne(() => Category, { nullable: true, onDelete: 'SET NULL' })
  @JoinColumn({ name: 'parentId' })
  parent!: Category | null;

  @Column({ type: 'int', nullable: true })
  parentId!: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
