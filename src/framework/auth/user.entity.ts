import { IsBoolean, IsEmail } from 'class-validator';
import {
  Column,
  CreateDateColumn,
  Entity,
  JoinTable,
  ManyToMany,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Group } from 'src/framework/auth/group.entity';
import { Permission } from 'src/framework/auth/permission.entity';

/**
 * An account. Emails are stored trimmed and lower-cased, so the unique constraint is case-insensitive.
 * `passwordHash` is argon2id (null: no password login). Staff may use the admin; superusers have every permission.
 * Example: `@ManyToOne(() => User) owner!: User;`
 */
@Entity('user')
export class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 254, unique: true })
  @IsEmail({}, { message: 'email must be an email address' })
  email!: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  passwordHash!: string | null;

  @Column({ type: 'boolean', default: true })
  @IsBoolean()
  isActive!: boolean;

  @Column({ type: 'boolean', default: false })
  @IsBoolean()
  isStaff!: boolean;

  @Column({ type: 'boolean', default: false })
  @IsBoolean()
  isSuperuser!: boolean;

  @Column({ type: 'boolean', default: false })
  @IsBoolean()
  emailVerified!: boolean;

  @Column({ type: 'timestamptz', nullable: true })
  lastLogin!: Date | null;

  /** TOTP secret, encrypted with a key derived from SECRET_KEY; null until 2FA is set up. */
  @Column({ type: 'text', nullable: true })
  totpSecret!: string | null;

  @Column({ type: 'boolean', default: false })
  totpEnabled!: boolean;

  /** SHA-256 hashes of the unused 2FA recovery codes. */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  totpRecoveryCodes!: string[];

  /** RFC 6238 time step of the last accepted TOTP code: each step is accepted once (no replay). */
  @Column({ type: 'integer', nullable: true })
  totpLastStep!: number | null;

  @ManyToMany(() => Group)
  @JoinTable({ name: 'user_groups', joinColumn: { name: 'userId' }, inverseJoinColumn: { name: 'groupId' } })
  groups!: Group[];

  @ManyToMany(() => Permission)
  @JoinTable({
    name: 'user_permissions',
    joinColumn: { name: 'userId' },
    inverseJoinColumn: { name: 'permissionId' },
  })
  permissions!: Permission[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
