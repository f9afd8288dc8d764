import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A job waiting to be published: written in the caller's transaction, published after commit. Its id is
 * the bullmq job id, so publishing the same row twice never creates two jobs.
 */
@Entity('job_outbox')
@Index('IDX_job_outbox_unpublished', ['createdAt'], { where: '"publishedAt" IS NULL' })
// One unfinished job per dedupe key: enqueueing the same key again returns the existing job.
@Index('UQ_job_outbox_dedupe', ['dedupeKey'], { unique: true, where: '"finishedAt" IS NULL' })
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

  /** Set with `finishedAt` when the job failed for good (retryable from the jobs API). */
  @Column({ type: 'timestamptz', nullable: true })
  failedAt!: Date | null;

  /** `enqueue(…, { dedupeKey })`: while a job with this key is unfinished, enqueueing it again is a no-op. */
  @Column({ type: 'varchar', length: 300, nullable: true })
  dedupeKey!: string | null;

  /** The id of the request that enqueued it (null outside a request): its log lines carry it. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;
}

/**
 * The cron schedules this app declared, as last reconciled at worker boot. It lets a worker remove the
 * backend's scheduler of a job deleted from the code, and it is the clock of the development-mode runner.
 */
@Entity('job_schedule')
export class JobSchedule {
  @Column({ type: 'varchar', length: 200, primary: true })
  name!: string;

  @Column({ type: 'varchar', length: 200 })
  cron!: string;

  /** When the development-mode runner fires it next (the bullmq backends keep their own). */
  @Column({ type: 'timestamptz' })
  nextRunAt!: Date;
}

/** Effects a handler recorded through `context.once(key, …)`: the key makes them happen once. */
@Entity('job_effect')
export class JobEffect {
  @Column({ type: 'varchar', length: 300, primary: true })
  key!: string;

  // Searched by job when a job reaches the stall limit (did one of its effects commit?).
  @Index('IDX_job_effect_jobId')
  @Column({ type: 'varchar', length: 100 })
  jobId!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
