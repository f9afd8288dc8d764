import { ApiProperty } from '@nestjs/swagger';
import { Length, Matches } from 'class-validator';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A free label on products ("gift", "eco"). */
@Entity('tag')
export class Tag {
  @PrimaryGeneratedColumn()
  id!: number;

  @ApiProperty({ example: 'gift' })
  @Column({ type: 'varchar', length: 60, unique: true })
  @Length(1, 60)
  @Matches(/^[a-z0-9]+(-[a-z0-9]+)*$/, { message: 'name must be lowercase words joined by hyphens' })
  name!: string;
}
