import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Failed credential checks per throttling key (and requests of the sensitive account flows, whose scopes
 * are those of `ACCOUNT_THROTTLES`), in a fixed window that starts with the first failure.
 * The key is an HMAC of `account:<email>` or `ip:<address or IPv6 /64>`, so the table holds no emails or
 * addresses. Rows live in PostgreSQL, so every process of a deployment shares the counters.
 */
@Entity('login_attempt')
export class LoginAttempt {
  /** HMAC-SHA256 (hex) of the scope and subject, keyed with a key derived from SECRET_KEY. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  key!: string;

  @Column({ type: 'varchar', length: 16 })
  scope!: string;

  @Column({ type: 'integer', default: 0 })
  failures!: number;

  /** Expired windows are swept; the index keeps that cheap. */
  @Index()
  @Column({ type: 'timestamptz', default: () => 'now()' })
  windowStart!: Date;
}
