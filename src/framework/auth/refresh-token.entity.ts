import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { UserOwned } from 'src/framework/auth/user-owned';

/**
 * One issued refresh token (only its SHA-256 is stored). Rotation spends it (`usedAt`) and issues the next
 * one in the same `family`; presenting a spent token again revokes the whole family (RFC 6819 §5.2.2.3).
 */
@Entity('refresh_token')
export class RefreshToken extends UserOwned {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ type: 'uuid' })
  family!: string;

  @Column({ type: 'varchar', length: 64, unique: true })
  tokenHash!: string;

  @Column({ type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
