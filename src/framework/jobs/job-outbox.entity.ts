import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A job waiting to be published: written in the caller's transaction, published after commit. Its id is
 * the bullmq job id, so publishing the same row twice never creates two jobs.
 */
@Entity('job_outbox')
@Index('IDX_job_outbox_unpublished', ['createdAt'], { where: '"publishedAt" IS NULL' })
export class JobOutbox {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'jsonb' })
  payload!: object;

  /** Delay in ms from publication. */
  @Column({ type: 'int', nullable: true })
  delay!: number | null;

  @Column({ type: 'int', nullable: true })
  priority!: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;

  /** Runs so far, next run and last error: used by the development-mode runner (no Redis). */
  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ type: 'timestamptz', nullable: true })
  runAt!: Date | null;

  @Column({ type: 'text', nullable: true })
  lastError!: string | null;

  /** Completed, or failed with no retry left; until then the sweeper makes sure the queue still has it. */
  @Column({ type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}

/** Effects a handler recorded through `context.once(key, …)`: the key makes them happen once. */
@Entity('job_effect')
export class JobEffect {
  @Column({ type: 'varchar', length: 300, primary: true })
  key!: string;

  @Column({ type: 'varchar', length: 100 })
  jobId!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
