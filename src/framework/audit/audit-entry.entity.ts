import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** What happened to a record. `action` entries name the admin action in `actionName`. */
export const AUDIT_OPERATIONS = ['create', 'update', 'delete', 'restore', 'action'] as const;
export type AuditOperation = (typeof AUDIT_OPERATIONS)[number];

/**
 * One change made through the API or the admin: who, when, what, and the changed fields before and after
 * (secrets and hidden fields excluded). Django admin's LogEntry, with a diff.
 */
@Entity('audit_entry')
@Index('IDX_audit_entry_record', ['resource', 'recordId', 'at'])
@Index('IDX_audit_entry_at', ['at'])
export class AuditEntry {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;

  /** The acting user (null for the system, e.g. a job); kept as a number so deleting a user keeps history. */
  @Column({ type: 'int', nullable: true })
  actorId!: number | null;

  @Column({ type: 'varchar', length: 320, nullable: true })
  actorEmail!: string | null;

  /** `api` (token or API key), `admin` (the admin session) or `system`. */
  @Column({ type: 'varchar', length: 10 })
  via!: string;

  /** The resource path: `products`. */
  @Column({ type: 'varchar', length: 100 })
  resource!: string;

  @Column({ type: 'varchar', length: 100 })
  recordId!: string;

  @Column({ type: 'varchar', length: 10 })
  operation!: AuditOperation;

  @Column({ type: 'varchar', length: 100, nullable: true })
  actionName!: string | null;

  /** Changed fields: `{ "price": ["10.00", "12.50"] }` (before, after); create has null befores. */
  @Column({ type: 'jsonb', default: {} })
  changes!: Record<string, [unknown, unknown]>;
}
