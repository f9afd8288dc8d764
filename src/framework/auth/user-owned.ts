import { Column, Index, ManyToOne } from 'typeorm';
import { User } from 'src/framework/auth/user.entity';

/** Base of the per-user records (tokens, API keys): a user id that cascades when the user is deleted. */
export abstract class UserOwned {
  @ManyToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  user!: User;

  @Index()
  @Column({ type: 'int' })
  userId!: number;
}
