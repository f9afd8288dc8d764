import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { UserOwned } from 'src/framework/auth/user-owned';

/**
 * An account at an OAuth / OpenID Connect provider linked to a user: `subject` is the provider's stable id
 * for that person (`sub`), so a changed email at the provider still signs in the same user.
 */
@Entity('user_identity')
@Unique('UQ_user_identity_provider_subject', ['provider', 'subject'])
export class UserIdentity extends UserOwned {
  @PrimaryGeneratedColumn()
  id!: number;

  /** The provider's name in OAUTH_PROVIDERS: `google`, `github`. */
  @Column({ type: 'varchar', length: 40 })
  provider!: string;

  @Column({ type: 'varchar', length: 255 })
  subject!: string;

  /** The verified address the provider reported when the identity was linked. */
  @Column({ type: 'varchar', length: 254, nullable: true })
  email!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  linkedAt!: Date;
}
