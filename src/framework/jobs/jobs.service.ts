import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Job as BullJob, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import type { JobContext } from 'src/framework/jobs/job.decorator';
import { JobDefinition, JobPayloadError, JobRegistry } from 'src/framework/jobs/job.registry';
import { JobsMetrics } from 'src/framework/jobs/jobs.metrics';

export interface EnqueueOptions {
  /** Milliseconds to wait after publication. */
  delay?: number;
  /** Overrides the job's declared priority. */
  priority?: number;
}

/** Outbox rows older than this and still unpublished are republished by the sweeper. */
const SWEEP_AFTER_MS = 5_000;
/** Published rows not finished after this long are checked against Redis and republished if lost. */
const LOST_AFTER_MS = 60_000;
/** Finished outbox rows are kept this long (for inspection), then pruned. */
const KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000;
const SWEEP_EVERY_MS = 2_000;
/** How often the development-mode runner (no Redis) looks for due outbox rows. */
const INLINE_POLL_MS = 250;
const PENDING = 'nestorOutbox';

/**
 * Enqueues jobs through a transactional outbox and runs their processors on bullmq (Redis).
 * Inside a transaction (`enqueue(…, manager)`), the job is published only after commit; a rollback means it
 * never existed. A sweeper republishes rows a crash left unpublished; the outbox id is the bullmq job id,
 * so a row published twice is still one job.
 * Example: `await jobs.enqueue('orders.send-confirmation', { orderId }, {}, manager)`.
 */
@Injectable()
export class JobsService
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown,
    EntitySubscriberInterface
{
  private readonly logger = new Logger('Jobs');
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private connection?: Redis;
  private sweeper?: NodeJS.Timeout;
  private inline?: NodeJS.Timeout;
  private inlineRunning?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: JobRegistry,
    private readonly config: NestorConfig,
    private readonly metrics: JobsMetrics,
  ) {}

  /**
   * Validates the payload (a JobPayloadError lists every problem; nothing is written) and records the job.
   * With `manager` inside a transaction it is published after that transaction commits; otherwise now.
   * Returns the job id.
   */
  async enqueue(
    name: string,
    payload: object,
    options: EnqueueOptions = {},
    manager?: EntityManager,
  ): Promise<string> {
    const job = this.registry.get(name);
    await this.registry.validatePayload(job, payload);
    const runner = manager ?? this.dataSource.manager;
    const [{ id }] = await runner.query<{ id: string }[]>(
      'INSERT INTO job_outbox (name, payload, delay, priority, "runAt") VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [
        name,
        JSON.stringify(payload),
        options.delay ?? null,
        options.priority ?? job.options.priority ?? null,
        options.delay ? new Date(Date.now() + options.delay) : null, // the development-mode runner's clock
      ],
    );
    const queryRunner = manager?.queryRunner;
    if (queryRunner?.isTransactionActive) {
      const pending = (queryRunner.data as Record<string, string[] | undefined>)[PENDING] ?? [];
      (queryRunner.data as Record<string, string[]>)[PENDING] = [...pending, id];
    } else {
      // The row is durable already: publish in the background so a Redis outage never holds the caller
      // (commands wait for Redis to come back); the sweeper covers a publish that does not complete.
      this.publish([id]).catch((error: Error) =>
        this.logger.warn(`Publish deferred to the sweeper: ${error.message}`),
      );
    }
    return id;
  }

  /** TypeORM calls this after every commit: publish what that transaction enqueued. */
  afterTransactionCommit(event: TransactionCommitEvent): void {
    const data = event.queryRunner.data as Record<string, string[] | undefined>;
    const ids = data[PENDING];
    if (ids?.length) {
      data[PENDING] = [];
      // Publication failures leave the rows for the sweeper; the request that committed is not failed.
      this.publish(ids).catch((error: Error) =>
        this.logger.warn(`Publish deferred to the sweeper: ${error.message}`),
      );
    }
  }

  afterTransactionRollback(event: TransactionCommitEvent): void {
    (event.queryRunner.data as Record<string, string[] | undefined>)[PENDING] = [];
  }

  /** Publishes outbox rows (idempotent: the job id is the row id) and marks them published. */
  async publish(ids: string[]): Promise<void> {
    if (!this.config.redisUrl) {
      return; // no queue backend yet on the embedded default: rows stay in the outbox (see README)
    }
    const rows = await this.dataSource.query<
      { id: string; name: string; payload: object; delay: number | null; priority: number | null }[]
    >(
      'SELECT id, name, payload, delay, priority FROM job_outbox WHERE id = ANY($1) AND "publishedAt" IS NULL',
      [ids],
    );
    for (const row of rows) {
      const job = this.registry.get(row.name);
      await this.queue(row.name).add(row.name, row.payload, {
        jobId: row.id,
        attempts: job.options.attempts,
        backoff: { type: 'exponential', delay: job.options.backoff, jitter: 0.5 },
        ...(row.delay ? { delay: row.delay } : {}),
        ...(row.priority ? { priority: row.priority } : {}),
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
      await this.dataSource.query('UPDATE job_outbox SET "publishedAt" = now() WHERE id = $1', [row.id]);
    }
  }

  /**
   * Republishes jobs Redis lost: published, not finished, and no longer known to the queue (a Redis
   * restart without persistence, a flushed instance). Returns how many were republished.
   */
  async recoverLost(): Promise<number> {
    const rows = await this.dataSource.query<{ id: string; name: string }[]>(
      `SELECT id, name FROM job_outbox WHERE "finishedAt" IS NULL AND "publishedAt" < now() - make_interval(secs => $1)
        ORDER BY "publishedAt" LIMIT 200`,
      [LOST_AFTER_MS / 1000],
    );
    const lost: string[] = [];
    for (const row of rows) {
      if (!(await this.queue(row.name).getJob(row.id))) {
        lost.push(row.id);
      }
    }
    if (lost.length > 0) {
      await this.dataSource.query('UPDATE job_outbox SET "publishedAt" = NULL WHERE id = ANY($1)', [lost]);
      await this.publish(lost);
      this.logger.warn(`Republished ${lost.length} job(s) the queue had lost`);
    }
    await this.dataSource.query(
      'DELETE FROM job_outbox WHERE "finishedAt" < now() - make_interval(secs => $1)',
      [KEEP_FINISHED_MS / 1000],
    );
    return lost.length;
  }

  /** Records that a job ended (completed, or failed for good): its outbox row is no longer watched. */
  private async markFinished(id: string | undefined): Promise<void> {
    if (id) {
      await this.dataSource
        .query('UPDATE job_outbox SET "finishedAt" = now() WHERE id::text = $1', [id])
        .catch((error: Error) => this.logger.warn(`Could not mark job ${id} finished: ${error.message}`));
    }
  }

  /** Republishes rows left unpublished (e.g. the process died between commit and publish). */
  async sweep(): Promise<number> {
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM job_outbox WHERE "publishedAt" IS NULL AND "createdAt" < now() - make_interval(secs => $1)
        ORDER BY "createdAt" LIMIT 500`,
      [SWEEP_AFTER_MS / 1000],
    );
    if (rows.length > 0) {
      await this.publish(rows.map((r) => r.id));
    }
    return rows.length;
  }

  /** The bullmq queue of a job name (one queue per job, so each has its own concurrency). */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.redis(), prefix: this.config.jobsPrefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.dataSource.subscribers.push(this);
    if (!this.config.redisUrl) {
      if (this.config.workers === 'inline' && this.registry.all().length > 0) {
        this.logger.warn('No REDIS_URL: jobs run in this process from the outbox (development mode)');
        this.startInlineRunner();
      }
      return;
    }
    let ticks = 0;
    let sweeping = false;
    this.sweeper = setInterval(() => {
      if (sweeping) {
        return; // during a Redis outage a sweep waits; never pile up more behind it
      }
      sweeping = true;
      const recover = ++ticks % 15 === 0; // about every 30 s: one Redis lookup per unfinished job
      (recover ? this.sweep().then(() => this.recoverLost()) : this.sweep())
        .catch((error: Error) => this.logger.warn(`Outbox sweep failed: ${error.message}`))
        .finally(() => {
          sweeping = false;
        });
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
    if (this.config.workers === 'inline') {
      for (const job of this.registry.all()) {
        this.workers.push(this.startWorker(job));
        if (job.options.cron) {
          await this.queue(job.name).upsertJobScheduler(
            `cron:${job.name}`,
            { pattern: job.options.cron },
            {
              name: job.name,
              data: {},
            },
          );
        }
      }
      await this.removeStaleSchedules();
    }
  }

  /** Schedules are declared in code: a scheduler whose cron was removed disappears at worker boot. */
  private async removeStaleSchedules(): Promise<void> {
    for (const job of this.registry.all()) {
      for (const scheduler of await this.queue(job.name).getJobSchedulers()) {
        if (scheduler.key !== `cron:${job.name}` || !job.options.cron) {
          await this.queue(job.name).removeJobScheduler(scheduler.key);
        }
      }
    }
  }

  private startWorker(job: JobDefinition): Worker {
    // Metrics (JobsMetrics): every run counts as completed or failed and is timed, by job name.
    const worker = new Worker(
      job.name,
      (bull: BullJob) => this.metrics.track(job.name, () => this.process(job, bull)),
      {
        connection: this.redis(),
        prefix: this.config.jobsPrefix,
        concurrency: job.options.concurrency,
        // A crashed worker's job is picked up again once its lock expires.
        lockDuration: this.config.jobsLockDuration,
        stalledInterval: this.config.jobsLockDuration,
        maxStalledCount: 2,
      },
    );
    worker.on('failed', (failed, error) => {
      this.logger.warn(
        `Job ${job.name} ${failed?.id ?? ''} failed (attempt ${failed?.attemptsMade ?? '?'}): ${error.message}`,
      );
      if (failed?.finishedOn) {
        void this.markFinished(failed.id); // no retry left: it stays failed (and retryable) in the queue
      }
    });
    worker.on('completed', (completed) => void this.markFinished(completed.id));
    worker.on('error', (error) => this.logger.warn(`Worker ${job.name}: ${error.message}`));
    return worker;
  }

  /**
   * Development mode without Redis: this process claims due outbox rows (FOR UPDATE SKIP LOCKED) and runs
   * them with the same validation, timeout, retries with backoff and `once`. Cron schedules need Redis.
   */
  private startInlineRunner(): void {
    let polling = false;
    this.inline = setInterval(() => {
      if (polling) {
        return;
      }
      polling = true;
      this.inlineRunning = this.runDueRows()
        .catch((error: Error) => this.logger.warn(`Inline job runner: ${error.message}`))
        .finally(() => {
          polling = false;
        });
    }, INLINE_POLL_MS);
    this.inline.unref();
  }

  private async runDueRows(): Promise<void> {
    // Rows claimed by a process that died are claimable again after the lock duration.
    const rows = await this.dataSource.query<
      { id: string; name: string; payload: object; attempts: number }[]
    >(
      // A SELECT around the UPDATE: TypeORM answers a top-level UPDATE … RETURNING with [rows, count].
      `WITH due AS (
         SELECT id FROM job_outbox
          WHERE "finishedAt" IS NULL AND ("runAt" IS NULL OR "runAt" <= now())
            AND ("publishedAt" IS NULL OR "publishedAt" < now() - make_interval(secs => $1))
          ORDER BY "createdAt" LIMIT 10 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE job_outbox o SET "publishedAt" = now(), attempts = o.attempts + 1 FROM due WHERE o.id = due.id
         RETURNING o.id, o.name, o.payload, o.attempts)
       SELECT * FROM claimed`,
      [this.config.jobsLockDuration / 1000],
    );
    for (const row of rows) {
      const job = this.registry.all().find((j) => j.name === row.name);
      if (!job) {
        continue; // a job no longer in the code: left for inspection
      }
      try {
        await this.metrics.track(job.name, () =>
          this.process(job, { id: row.id, data: row.payload, attemptsMade: row.attempts - 1 }),
        );
        await this.dataSource.query('UPDATE job_outbox SET "finishedAt" = now() WHERE id = $1', [row.id]);
      } catch (error) {
        const final = error instanceof UnrecoverableError || row.attempts >= job.options.attempts;
        const delay = job.options.backoff * 2 ** (row.attempts - 1) * (0.5 + Math.random() * 0.5);
        this.logger.warn(
          `Job ${job.name} ${row.id} failed (attempt ${row.attempts}): ${(error as Error).message}`,
        );
        await this.dataSource.query(
          `UPDATE job_outbox SET "lastError" = $2,
             "finishedAt" = CASE WHEN $3 THEN now() END,
             "publishedAt" = CASE WHEN $3 THEN "publishedAt" END,
             "runAt" = now() + make_interval(secs => $4)
           WHERE id = $1`,
          [row.id, (error as Error).message.slice(0, 2000), final, delay / 1000],
        );
      }
    }
  }

  private async process(
    job: JobDefinition,
    bull: Pick<BullJob, 'data' | 'attemptsMade'> & { id?: string },
  ): Promise<void> {
    let payload: object;
    try {
      payload = await this.registry.validatePayload(job, bull.data);
    } catch (error) {
      // A payload that cannot be valid will not become valid by retrying.
      throw error instanceof JobPayloadError ? new UnrecoverableError(error.message) : error;
    }
    const context: JobContext = {
      jobId: String(bull.id),
      attempt: bull.attemptsMade + 1,
      once: (key, effect) =>
        this.dataSource.transaction(async (manager) => {
          const inserted = await manager.query<{ key: string }[]>(
            'INSERT INTO job_effect (key, "jobId") VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key',
            [key, String(bull.id)],
          );
          if (inserted.length === 0) {
            return false;
          }
          await effect(manager);
          return true;
        }),
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        job.handle(payload, context),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`timed out after ${job.options.timeout} ms`)),
            job.options.timeout,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private redis(): Redis {
    // Workers block on Redis; bullmq requires maxRetriesPerRequest: null so a slow Redis never fails them.
    this.connection ??= new Redis(this.config.redisUrl!, { maxRetriesPerRequest: null, lazyConnect: false });
    return this.connection;
  }

  /**
   * Stop fetching, let running jobs finish within JOBS_SHUTDOWN_TIMEOUT. This runs before every
   * onApplicationShutdown hook, so the database (closed by TypeORM's) is still there for the running jobs.
   */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    clearInterval(this.inline);
    await this.inlineRunning; // the inline runner's current rows finish before the database closes
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.config.jobsShutdownTimeout).unref(),
    );
    const closed = Promise.all(this.workers.map((w) => w.close()));
    if ((await Promise.race([closed, timeout])) === 'timeout') {
      this.logger.warn('Jobs still running at the shutdown timeout: closing anyway (they will be retried)');
      await Promise.all(this.workers.map((w) => w.close(true)));
    }
  }

  /** Close the queues once the HTTP server no longer accepts requests that could enqueue. */
  async onApplicationShutdown(): Promise<void> {
    const index = this.dataSource.subscribers.indexOf(this);
    if (index >= 0) {
      this.dataSource.subscribers.splice(index, 1);
    }
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.connection?.quit().catch(() => undefined);
  }
}
