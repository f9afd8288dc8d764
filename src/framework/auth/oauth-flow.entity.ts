import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A sign-in in progress at a provider (ten minutes at most). The browser holds a random id in an httpOnly
 * cookie and the table its SHA-256 with the flow's `state`, `nonce` and PKCE verifier, so a callback works
 * once, only in the browser that started it, and any API process can answer it.
 */
@Entity('oauth_flow')
export class OAuthFlow {
  /** SHA-256 (hex) of the cookie value. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  idHash!: string;

  @Column({ type: 'varchar', length: 40 })
  provider!: string;

  /** `api`: the callback answers tokens; `admin`: it opens an admin session and returns to the admin. */
  @Column({ type: 'varchar', length: 10 })
  mode!: 'api' | 'admin';

  @Column({ type: 'varchar', length: 64 })
  state!: string;

  /** OpenID Connect only: the ID token must carry it back. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  nonce!: string | null;

  @Column({ type: 'varchar', length: 128 })
  codeVerifier!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz' })
  expiresAt!: Date;
}
