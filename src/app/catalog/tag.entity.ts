import { ApiProperty } from '@nestjs/swagger';
import { IsSlug } from 'nestor';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A free label on products ("gift", "eco"). */
@Entity('tag')
export class Tag {
  @PrimaryGeneratedColumn()
  id!: number;

  @ApiProperty({ example: 'gift' })
  @Column({ type: 'varchar', length: 60, unique: true })
  @IsSlug()
  name!: string;
}
