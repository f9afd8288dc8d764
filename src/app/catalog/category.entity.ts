import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/** A shop category; categories nest through an optional parent. */
@Entity('category')
export class Category {
  @PrimaryGeneratedColumn()
  id!: number;

  @ApiProperty({ example: 'Kitchen' })
  @Column({ type: 'varchar', length: 120, unique: true })
  @IsString()
  @Length(1, 120)
  name!: string;

  @ApiProperty({ example: 'kitchen' })
  @Column({ type: 'varchar', length: 120, unique: true })
  @Matches(/^[a-z0-9]+(-[a-z0-9]+)*$/, { message: 'slug must be lowercase words joined by hyphens' })
  @MaxLength(120)
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
