import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A staff member's admin session: the httpOnly cookie holds a random id, the table its SHA-256, so a leaked
 * database does not hand out sessions. Kept in the database so any API process can serve any session.
 */
@Entity('admin_session')
@Index('IDX_admin_session_user', ['userId'])
export class AdminSession {
  /** SHA-256 (hex) of the cookie value. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  idHash!: string;

  @Column({ type: 'int' })
  userId!: number;

  /** The CSRF token unsafe requests must echo in `X-CSRF-Token`. */
  @Column({ type: 'varchar', length: 64 })
  csrfToken!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz' })
  expiresAt!: Date;
}
