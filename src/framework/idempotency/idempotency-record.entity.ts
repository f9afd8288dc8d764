import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One `Idempotency-Key` of one caller (the database store): claimed before its request runs, marked
 * committed inside the request's write transaction, then completed with the response a retry replays.
 */
@Entity('idempotency_key')
@Index('IDX_idempotency_key_expires', ['expiresAt'])
export class IdempotencyRecord {
  /** Whose key: `user:<id>`, `api-key:<id>` or `anonymous:<address>`. */
  @PrimaryColumn({ type: 'varchar', length: 100 })
  scope!: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  key!: string;

  /** SHA-256 (hex) of method, path, If-Match and body: the same key with another request is a 422. */
  @Column({ type: 'char', length: 64 })
  fingerprint!: string;

  /** The claim of the request running under this key; a retry that takes over a dead claim gets a new one. */
  @Column({ type: 'uuid' })
  token!: string;

  /** The claim's lease, renewed while its request runs: a dead process's key is taken over once it lapses. */
  @Column({ type: 'timestamptz' })
  lockedUntil!: Date;

  /** Set in the request's own write transaction: from then on the request never runs again. */
  @Column({ type: 'timestamptz', nullable: true })
  committedAt!: Date | null;

  /** The stored response (null until the request finished with one worth replaying). */
  @Column({ type: 'smallint', nullable: true })
  status!: number | null;

  @Column({ type: 'jsonb', nullable: true })
  headers!: Record<string, string> | null;

  @Column({ type: 'bytea', nullable: true })
  body!: Buffer | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  /** IDEMPOTENCY_TTL after the first request: then the key is forgotten (and pruned). */
  @Column({ type: 'timestamptz' })
  expiresAt!: Date;
}
