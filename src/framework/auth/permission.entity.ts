import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A named permission, e.g. `products.change`. Every resource gets `<path>.view|add|change|delete` at boot. */
@Entity('permission')
export class Permission {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 150, unique: true })
  codename!: string;

  @Column({ type: 'varchar', length: 255, default: '' })
  name!: string;
}
