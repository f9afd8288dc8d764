import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { JobBackend, JobQueue } from 'src/framework/jobs/backends/job-backend';
import { JobRunner, isFinal, withJobMeta } from 'src/framework/jobs/job-runner';
import { JobRegistry } from 'src/framework/jobs/job.registry';

/** How often the development-mode runner (no Redis) looks for due outbox rows. */
const INLINE_POLL_MS = 250;
/** Every how many polls the development-mode runner fires due cron schedules (about once a second). */
const SCHEDULE_EVERY_POLLS = 4;
const NO_QUEUES = 'NST-J007 The development-mode job backend has no bullmq queues';

/**
 * Development mode without Redis: this process claims due outbox rows (FOR UPDATE SKIP LOCKED) and runs
 * them with the same validation, timeout, retries with backoff and `once`, and fires due cron schedules.
 */
export class InlineJobBackend extends JobBackend {
  readonly publishes = false;
  private readonly logger = new Logger('Jobs');
  private inline?: NodeJS.Timeout;
  private inlineRunning?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: JobRegistry,
    private readonly config: NestorConfig,
    private readonly runner: JobRunner,
  ) {
    super();
  }

  ready(): Promise<void> {
    throw new Error(NO_QUEUES);
  }

  queue(_name: string): JobQueue {
    throw new Error(NO_QUEUES);
  }

  syncSchedulers(): Promise<void> {
    // The outbox runner fires schedules from job_schedule itself (fireDueSchedules): no scheduler to sync.
    return Promise.resolve();
  }

  startWorkers(everyFewSeconds: () => Promise<void>): Promise<void> {
    let polling = false;
    let polls = 0;
    this.inline = setInterval(() => {
      if (polling) {
        return;
      }
      polling = true;
      const schedules = ++polls % SCHEDULE_EVERY_POLLS === 0 ? everyFewSeconds() : Promise.resolve();
      this.inlineRunning = schedules
        .then(() => this.runDueRows())
        .catch((error: Error) => this.logger.warn(`Inline job runner: ${error.message}`))
        .finally(() => {
          polling = false;
        });
    }, INLINE_POLL_MS);
    this.inline.unref();
    return Promise.resolve();
  }

  async stopWorkers(): Promise<void> {
    clearInterval(this.inline);
    await this.inlineRunning; // the inline runner's current rows finish before the database closes
  }

  close(): Promise<void> {
    // Nothing is open besides the application's own database connection.
    return Promise.resolve();
  }

  private async runDueRows(): Promise<void> {
    // Rows claimed by a process that died are claimable again after the lock duration.
    const rows = await this.dataSource.query<
      { id: string; name: string; payload: object; attempts: number; requestId: string | null }[]
    >(
      // A SELECT around the UPDATE: TypeORM answers a top-level UPDATE … RETURNING with [rows, count].
      `WITH due AS (
         SELECT id FROM job_outbox
          WHERE "finishedAt" IS NULL AND ("runAt" IS NULL OR "runAt" <= now())
            AND ("publishedAt" IS NULL OR "publishedAt" < now() - make_interval(secs => $1))
          ORDER BY "createdAt" LIMIT 10 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE job_outbox o SET "publishedAt" = now(), attempts = o.attempts + 1 FROM due WHERE o.id = due.id
         RETURNING o.id, o.name, o.payload, o.attempts, o."requestId")
       SELECT * FROM claimed`,
      [this.config.jobsLockDuration / 1000],
    );
    for (const row of rows) {
      const job = this.registry.all().find((j) => j.name === row.name);
      if (!job) {
        continue; // a job no longer in the code: left for inspection
      }
      try {
        await this.runner.run(job, {
          id: row.id,
          data: withJobMeta(row.payload, { requestId: row.requestId ?? undefined }),
          attemptsMade: row.attempts - 1,
        });
        await this.dataSource.query('UPDATE job_outbox SET "finishedAt" = now() WHERE id = $1', [row.id]);
      } catch (error) {
        const final = isFinal(job, row.attempts, error);
        const delay = job.options.backoff * 2 ** (row.attempts - 1) * (0.5 + Math.random() * 0.5);
        await this.dataSource.query(
          `UPDATE job_outbox SET "lastError" = $2,
             "finishedAt" = CASE WHEN $3 THEN now() END,
             "failedAt" = CASE WHEN $3 THEN now() END,
             "publishedAt" = CASE WHEN $3 THEN "publishedAt" END,
             "runAt" = now() + make_interval(secs => $4)
           WHERE id = $1`,
          [row.id, (error as Error).message.slice(0, 2000), final, delay / 1000],
        );
      }
    }
  }
}
