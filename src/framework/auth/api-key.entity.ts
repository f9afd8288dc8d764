import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { UserOwned } from 'src/framework/auth/user-owned';

/**
 * A machine client's key, created by a user for themselves with a subset of their permissions. Shown once
 * as `nst_<prefix>_<secret>`; only the prefix (visible, for lookup) and the secret's SHA-256 are stored.
 */
@Entity('api_key')
export class ApiKey extends UserOwned {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 16, unique: true })
  prefix!: string;

  @Column({ type: 'varchar', length: 64 })
  secretHash!: string;

  /** Permission codenames this key may use (always intersected with the owner's current permissions). */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  permissions!: string[];

  @Column({ type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
