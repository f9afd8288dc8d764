import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import {
  Job as BullJob,
  createPostgresBackend,
  Queue,
  runMigrations,
  UnrecoverableError,
  Worker,
  withBackend,
  WorkerOptions,
} from 'bullmq';
import { createHmac, randomUUID } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import type * as IORedis from 'ioredis';
import { Pool } from 'pg';
import { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent } from 'typeorm';
import { deriveKey } from 'src/framework/crypto/keys';
import { UUID_RE } from 'src/framework/fields/formats';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { currentRequestId } from 'src/framework/http/request-id';
import type { JobContext } from 'src/framework/jobs/job.decorator';
import { JobDefinition, JobPayloadError, JobRegistry } from 'src/framework/jobs/job.registry';
import { JobsMetrics } from 'src/framework/jobs/jobs.metrics';
import { lazyModule } from 'src/framework/lazy-module';

const ioredis = lazyModule<typeof IORedis>('ioredis');

export interface EnqueueOptions {
  /** Milliseconds to wait after publication. */
  delay?: number;
  /** Overrides the job's declared priority. */
  priority?: number;
  /**
   * While a job enqueued with this key is unfinished, enqueueing the same key again returns that job's id
   * and adds nothing (e.g. `stock-alert:product:42`).
   */
  dedupeKey?: string;
}

/** A bullmq queue on whichever backend is configured. */
const OnPostgres = withBackend(createPostgresBackend);
type PostgresQueue = InstanceType<typeof OnPostgres.Queue<object, unknown>>;
type PostgresWorker = InstanceType<typeof OnPostgres.Worker<object, unknown>>;
export type JobQueue = Queue<object, unknown> | PostgresQueue;
type JobWorker = Worker<object, unknown> | PostgresWorker;

/** The schema bullmq's PostgreSQL backend keeps its tables in. */
export const BULLMQ_SCHEMA = 'bullmq';

/** Outbox rows older than this and still unpublished are republished by the sweeper. */
const SWEEP_AFTER_MS = 5_000;
/** How long a completed job waits for its batched finished mark. */
const FINISH_BATCH_MS = 10;
/** Published rows not finished after this long are checked against Redis and republished if lost. */
const LOST_AFTER_MS = 60_000;
/** Finished outbox rows are kept this long (for inspection), then pruned. */
const KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000;
const SWEEP_EVERY_MS = 2_000;
/** How often the development-mode runner (no Redis) looks for due outbox rows. */
const INLINE_POLL_MS = 250;
/** Every how many polls the development-mode runner fires due cron schedules (about once a second). */
const SCHEDULE_EVERY_POLLS = 4;
const PENDING = 'nestorOutbox';

/**
 * What a job carries besides its payload, under one reserved key of the bullmq job data (bullmq has no
 * other per-job field that every backend keeps).
 */
interface JobMeta {
  requestId?: string;
}
const META_KEY = '$nestor';

/** The job data to publish: the payload, plus its metadata when there is any. */
function withJobMeta(payload: object, meta: JobMeta): object {
  return meta.requestId ? { ...payload, [META_KEY]: meta } : payload;
}

/** The metadata of published job data. */
function jobMeta(data: unknown): JobMeta {
  const meta = (data as Record<string, unknown> | null)?.[META_KEY];
  return typeof meta === 'object' && meta !== null ? meta : {};
}

/** The payload of published job data: what the handler and the jobs API see. */
export function jobPayload(data: unknown): unknown {
  if (typeof data !== 'object' || data === null || !(META_KEY in data)) {
    return data;
  }
  const { [META_KEY]: _meta, ...payload } = data as Record<string, unknown>;
  return payload;
}

/** No retry follows: the payload cannot be valid, or the attempts are used up. */
function isFinal(job: JobDefinition, attempt: number, error: unknown): boolean {
  return error instanceof UnrecoverableError || attempt >= job.options.attempts;
}

/** The next time a cron expression fires after now. */
export function nextRun(cron: string): Date {
  return CronExpressionParser.parse(cron).next().toDate();
}

/**
 * Enqueues jobs through a transactional outbox and runs their processors on bullmq (Redis or PostgreSQL;
 * in development mode on the embedded database, from the outbox table itself).
 * Inside a transaction (`enqueue(…, manager)`), the job is published only after commit; a rollback means it
 * never existed. A sweeper republishes rows a crash left unpublished; the outbox id is the bullmq job id,
 * so a row published twice is still one job.
 * Example: `await jobs.enqueue('orders.send-confirmation', { orderId }, {}, manager)`.
 */
/** An outbox row's id (a uuid), as opposed to ids bullmq gives scheduler runs. */
const UUID = UUID_RE;

@Injectable()
export class JobsService
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown,
    EntitySubscriberInterface
{
  private readonly logger = new Logger('Jobs');
  private readonly queues = new Map<string, JobQueue>();
  private readonly workers: JobWorker[] = [];
  private connection?: IORedis.Redis;
  /** The Redis server process last connected to (INFO run_id): a different one may have lost the queues. */
  private redisRunId?: string;
  private pool?: Pool;
  private poolReady?: Promise<void>;
  private schedulesReconciled = false;
  private sweeper?: NodeJS.Timeout;
  private inline?: NodeJS.Timeout;
  private inlineRunning?: Promise<void>;
  /** Completed job ids waiting for the next batched UPDATE (finishLater). */
  private readonly finishing = new Set<string>();
  private finishTimer?: NodeJS.Timeout;
  private readonly flushing = new Set<Promise<void>>();
  private effectSecret?: Buffer;
  /** Errors run() has logged already: bullmq's 'failed' event must not log them a second time. */
  private readonly logged = new WeakSet<Error>();

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
    const values = [
      name,
      JSON.stringify(payload),
      options.delay ?? null,
      options.priority ?? job.options.priority ?? null,
      options.delay ? new Date(Date.now() + options.delay) : null, // the development-mode runner's clock
      options.dedupeKey ?? null,
      currentRequestId() ?? null,
    ];
    const [inserted] = await runner.query<{ id: string }[]>(
      `INSERT INTO job_outbox (name, payload, delay, priority, "runAt", "dedupeKey", "requestId")
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT ("dedupeKey") WHERE "finishedAt" IS NULL DO NOTHING RETURNING id`,
      values,
    );
    if (!inserted) {
      // The unique index let the insert wait for a concurrent one with the same key, so this sees it.
      const [existing] = await runner.query<{ id: string }[]>(
        'SELECT id FROM job_outbox WHERE "dedupeKey" = $1 AND "finishedAt" IS NULL',
        [options.dedupeKey],
      );
      if (existing) {
        return existing.id;
      }
      return this.enqueue(name, payload, options, manager); // it finished in between: this is a new job
    }
    this.publishAfterCommit([inserted.id], manager);
    return inserted.id;
  }

  /**
   * Enqueues many jobs of one name in one INSERT (as bullmq's addBulk or Sidekiq's push_bulk): every payload
   * is validated first, and one invalid payload enqueues nothing (its JobPayloadError names its index).
   * Published after `manager`'s transaction commits, as `enqueue`. Returns the ids in payload order.
   * Example: `await jobs.enqueueMany('catalog.reindex', products.map((p) => ({ productId: p.id })))`.
   */
  async enqueueMany(
    name: string,
    payloads: object[],
    options: Omit<EnqueueOptions, 'dedupeKey'> = {},
    manager?: EntityManager,
  ): Promise<string[]> {
    const job = this.registry.get(name);
    for (const [index, payload] of payloads.entries()) {
      await this.registry.validatePayload(job, payload).catch((error: unknown) => {
        throw error instanceof JobPayloadError
          ? new JobPayloadError(
              name,
              error.problems.map((problem) => `[${index}] ${problem}`),
            )
          : error;
      });
    }
    if (payloads.length === 0) {
      return [];
    }
    const runner = manager ?? this.dataSource.manager;
    // Ids made here, so they come back in payload order without relying on RETURNING's order.
    const ids = payloads.map(() => randomUUID());
    await runner.query(
      `INSERT INTO job_outbox (id, name, payload, delay, priority, "runAt", "requestId")
       SELECT p.id, $1, p.payload, $4, $5, $6, $7 FROM unnest($2::uuid[], $3::jsonb[]) AS p(id, payload)`,
      [
        name,
        ids,
        payloads.map((payload) => JSON.stringify(payload)),
        options.delay ?? null,
        options.priority ?? job.options.priority ?? null,
        options.delay ? new Date(Date.now() + options.delay) : null,
        currentRequestId() ?? null,
      ],
    );
    this.publishAfterCommit(ids, manager);
    return ids;
  }

  /** Publishes new outbox rows after `manager`'s transaction commits, or now (in the background). */
  private publishAfterCommit(ids: string[], manager?: EntityManager): void {
    const queryRunner = manager?.queryRunner;
    if (queryRunner?.isTransactionActive) {
      const data = queryRunner.data as Record<string, string[] | undefined>;
      data[PENDING] = [...(data[PENDING] ?? []), ...ids];
    } else {
      // The rows are durable already: publish in the background so a Redis outage never holds the caller
      // (commands wait for Redis to come back); the sweeper covers a publish that does not complete.
      this.publish(ids).catch((error: Error) =>
        this.logger.warn(`Publish deferred to the sweeper: ${error.message}`),
      );
    }
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
    if (this.config.jobsBackend === 'outbox') {
      return; // development mode: the runner takes the rows from the outbox itself
    }
    await this.ready();
    const rows = await this.dataSource.query<
      {
        id: string;
        name: string;
        payload: object;
        delay: number | null;
        priority: number | null;
        requestId: string | null;
      }[]
    >(
      `SELECT id, name, payload, delay, priority, "requestId" FROM job_outbox
        WHERE id = ANY($1) AND "publishedAt" IS NULL`,
      [ids],
    );
    // One bulk add per queue (a single round trip for a whole sweep), then one UPDATE for the batch.
    const byName = new Map<string, typeof rows>();
    for (const row of rows) {
      byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
    }
    for (const [name, batch] of byName) {
      const job = this.registry.get(name);
      await this.queue(name).addBulk(
        batch.map((row) => ({
          name,
          data: withJobMeta(row.payload, { requestId: row.requestId ?? undefined }),
          opts: {
            jobId: row.id,
            attempts: job.options.attempts,
            backoff: { type: 'exponential', delay: job.options.backoff, jitter: 0.5 },
            ...(row.delay ? { delay: row.delay } : {}),
            ...(row.priority ? { priority: row.priority } : {}),
            removeOnComplete: { age: 24 * 3600, count: 10_000 },
            removeOnFail: { age: 7 * 24 * 3600 },
          },
        })),
      );
      await this.dataSource.query('UPDATE job_outbox SET "publishedAt" = now() WHERE id = ANY($1)', [
        batch.map((row) => row.id),
      ]);
    }
  }

  /**
   * Republishes jobs Redis lost: published, not finished, and no longer known to the queue (a Redis
   * restart without persistence, a flushed instance). Returns how many were republished.
   */
  async recoverLost(olderThanMs = LOST_AFTER_MS, limit = 200): Promise<number> {
    const rows = await this.dataSource.query<{ id: string; name: string }[]>(
      `SELECT id, name FROM job_outbox WHERE "finishedAt" IS NULL AND "publishedAt" < now() - make_interval(secs => $1)
        ORDER BY "publishedAt" LIMIT $2`,
      [olderThanMs / 1000, limit],
    );
    const lost: string[] = [];
    if (rows.length > 0) {
      await this.ready();
    }
    for (const row of rows) {
      const job = await this.queue(row.name).getJob(row.id);
      if (!job) {
        lost.push(row.id);
        continue;
      }
      // Ended, but the worker's own markFinished did not land (it is best effort): settle the row now,
      // or drain() would wait for it forever and the dedupe key would stay taken.
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') {
        await this.markFinished(row.id, state);
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

  /**
   * Records that a job ended (completed, failed for good, or removed by staff): its outbox row is no longer
   * watched, and its dedupe key is free again. `reopen` undoes it for a job retried from the jobs API.
   */
  async markFinished(
    id: string | undefined,
    how: 'completed' | 'failed' | 'reopen' = 'completed',
  ): Promise<void> {
    // Only outbox jobs have a row (their id is its uuid); a cron run's id is the scheduler's own.
    if (id && UUID.test(id)) {
      await this.dataSource
        .query(
          `UPDATE job_outbox SET "finishedAt" = CASE WHEN $2 = 'reopen' THEN NULL ELSE now() END,
             "failedAt" = CASE WHEN $2 = 'failed' THEN now() END
           WHERE id = $1::uuid`,
          [id, how],
        )
        .catch((error: Error) => this.logger.warn(`Could not mark job ${id} ${how}: ${error.message}`));
    }
  }

  /**
   * Marks a completed job finished with the next batch: one UPDATE every few milliseconds instead of one
   * (and one WAL flush) per job. Best effort, as markFinished: recoverLost settles a mark that never landed.
   */
  private finishLater(id: string | undefined): void {
    if (!id || !UUID.test(id)) {
      return;
    }
    this.finishing.add(id);
    this.finishTimer ??= setTimeout(() => void this.flushFinished(), FINISH_BATCH_MS);
  }

  private async flushFinished(): Promise<void> {
    clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
    const ids = [...this.finishing];
    this.finishing.clear();
    if (ids.length > 0) {
      const flush = this.dataSource
        .query('UPDATE job_outbox SET "finishedAt" = now(), "failedAt" = NULL WHERE id = ANY($1::uuid[])', [
          ids,
        ])
        .then(
          () => undefined,
          (error: Error) =>
            this.logger.warn(`Could not mark ${ids.length} job(s) completed: ${error.message}`),
        );
      this.flushing.add(flush);
      await flush;
      this.flushing.delete(flush);
    }
  }

  /**
   * Resolves once every job in the outbox has finished (completed or failed for good), including jobs those
   * jobs enqueued; rejects after `timeoutMs`. For tests and scripts that must see a job's effects:
   * `await t.app.get(JobsService).drain()`. Cron runs started by a bullmq scheduler are not waited for.
   */
  async drain(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [{ n }] = await this.dataSource.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM job_outbox WHERE "finishedAt" IS NULL',
      );
      if (n === 0) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`${n} job(s) still unfinished after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
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

  /**
   * The bullmq queue of a job name (one queue per job, so each has its own concurrency). Call `ready()`
   * first; the development-mode backend has no queues.
   */
  queue(name: string): JobQueue {
    const existing = this.queues.get(name);
    if (existing) {
      return existing;
    }
    const queue: JobQueue =
      this.config.jobsBackend === 'postgres'
        ? new OnPostgres.Queue<object, unknown>(name, { connection: this.postgres() })
        : new Queue<object, unknown>(name, { connection: this.redis(), prefix: this.config.jobsPrefix });
    // An 'error' event without a listener would end the process (e.g. the backend dropping a connection).
    queue.on('error', (error: Error) => this.logger.warn(`Queue ${name}: ${error.message}`));
    this.queues.set(name, queue);
    return queue;
  }

  /** Resolves once the job backend can take jobs (on PostgreSQL: bullmq's schema is migrated). */
  ready(): Promise<void> {
    if (this.config.jobsBackend === 'outbox') {
      throw new Error('NST-J007 The development-mode job backend has no bullmq queues');
    }
    if (this.config.jobsBackend === 'redis') {
      return Promise.resolve();
    }
    // bullmq versions its own schema; its migrations take an advisory lock, so concurrent boots are safe.
    this.poolReady ??= this.postgres()
      .connect()
      .then(async (client) => {
        try {
          await runMigrations(client, BULLMQ_SCHEMA);
        } finally {
          client.release();
        }
      });
    return this.poolReady;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.dataSource.subscribers.push(this);
    if (this.config.jobsBackend === 'outbox') {
      if (this.config.workers === 'inline' && this.registry.all().length > 0) {
        this.logger.warn(
          'No REDIS_URL or DATABASE_URL: jobs run in this process from the outbox (development mode)',
        );
        await this.reconcileSchedules();
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
        .then(() => this.reconcileSchedules())
        .catch((error: Error) => this.logger.warn(`Outbox sweep failed: ${error.message}`))
        .finally(() => {
          sweeping = false;
        });
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
    if (this.config.workers === 'inline') {
      await this.ready(); // otherwise the first publish does it
      for (const job of this.registry.all()) {
        this.workers.push(this.startWorker(job));
      }
      await this.reconcileSchedules();
    }
  }

  /**
   * Schedules are declared in code; the worker boot makes the backend match: declared crons are upserted,
   * and a scheduler whose cron (or whose whole job) was removed from the code disappears. `job_schedule`
   * remembers what was declared, which is how a deleted job's scheduler is found. Until it succeeds once
   * (in production the tables may wait for `nestor migrate`), the sweeper tries again; never in processes
   * that run no workers.
   */
  private async reconcileSchedules(): Promise<void> {
    if (this.schedulesReconciled || this.config.workers !== 'inline') {
      return;
    }
    try {
      await this.reconcile();
      this.schedulesReconciled = true;
    } catch (error) {
      this.logger.warn(`Schedules not reconciled yet (retrying): ${(error as Error).message}`);
    }
  }

  private async reconcile(): Promise<void> {
    const declared = this.registry.all().filter((job) => job.options.cron);
    const recorded = await this.dataSource.query<{ name: string }[]>('SELECT name FROM job_schedule');
    const gone = recorded.map((r) => r.name).filter((name) => !declared.some((job) => job.name === name));
    if (this.config.jobsBackend !== 'outbox') {
      for (const job of declared) {
        await this.queue(job.name).upsertJobScheduler(
          `cron:${job.name}`,
          { pattern: job.options.cron },
          { name: job.name, data: {} },
        );
      }
      for (const name of [...gone, ...this.registry.all().map((job) => job.name)]) {
        for (const scheduler of await this.queue(name).getJobSchedulers()) {
          const job = this.registry.all().find((j) => j.name === name);
          if (!job?.options.cron || scheduler.key !== `cron:${name}`) {
            await this.queue(name).removeJobScheduler(scheduler.key);
          }
        }
      }
    }
    await this.dataSource.transaction(async (manager) => {
      await manager.query('DELETE FROM job_schedule WHERE name = ANY($1)', [gone]);
      for (const job of declared) {
        // A changed cron starts a new clock; an unchanged one keeps its next run across restarts.
        await manager.query(
          `INSERT INTO job_schedule (name, cron, "nextRunAt") VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron,
             "nextRunAt" = CASE WHEN job_schedule.cron = EXCLUDED.cron THEN job_schedule."nextRunAt"
                           ELSE EXCLUDED."nextRunAt" END`,
          [job.name, job.options.cron, nextRun(job.options.cron!)],
        );
      }
    });
  }

  private startWorker(job: JobDefinition): JobWorker {
    const options: Omit<WorkerOptions, 'connection'> = {
      concurrency: job.options.concurrency,
      // A crashed worker's job is picked up again once its lock expires.
      lockDuration: this.config.jobsLockDuration,
      stalledInterval: this.config.jobsLockDuration,
      maxStalledCount: 2,
    };
    const processor = (bull: BullJob) => this.run(job, bull);
    const worker: JobWorker =
      this.config.jobsBackend === 'postgres'
        ? new OnPostgres.Worker<object, unknown>(job.name, processor, {
            ...options,
            connection: this.postgres(),
          })
        : new Worker<object, unknown>(job.name, processor, {
            ...options,
            connection: this.redis(),
            prefix: this.config.jobsPrefix,
          });
    worker.on('failed', (failed, error) => {
      if (!this.logged.has(error)) {
        // Not thrown by the handler (run() logged those): a job whose worker kept dying, for instance.
        this.logger.warn({
          msg: `Job ${job.name} ${failed?.id ?? ''} failed: ${error.message}`,
          job: job.name,
          jobId: failed?.id,
          requestId: failed ? jobMeta(failed.data).requestId : undefined,
          error: error.message,
        });
      }
      if (failed?.finishedOn) {
        void this.markFinished(failed.id, 'failed'); // no retry left: it stays failed (and retryable)
      }
    });
    worker.on('completed', (completed) => this.finishLater(completed.id));
    worker.on('error', (error) => this.logger.warn(`Worker ${job.name}: ${error.message}`));
    return worker;
  }

  /**
   * Development mode without Redis: this process claims due outbox rows (FOR UPDATE SKIP LOCKED) and runs
   * them with the same validation, timeout, retries with backoff and `once`, and fires due cron schedules.
   */
  private startInlineRunner(): void {
    let polling = false;
    let polls = 0;
    this.inline = setInterval(() => {
      if (polling) {
        return;
      }
      polling = true;
      const schedules =
        ++polls % SCHEDULE_EVERY_POLLS === 0
          ? this.reconcileSchedules().then(() => this.fireDueSchedules())
          : Promise.resolve();
      this.inlineRunning = schedules
        .then(() => this.runDueRows())
        .catch((error: Error) => this.logger.warn(`Inline job runner: ${error.message}`))
        .finally(() => {
          polling = false;
        });
    }, INLINE_POLL_MS);
    this.inline.unref();
  }

  /** Development mode: enqueues each due schedule once (the row lock makes concurrent runners agree). */
  private async fireDueSchedules(): Promise<void> {
    const due = await this.dataSource.query<{ name: string }[]>(
      'SELECT name FROM job_schedule WHERE "nextRunAt" <= now()',
    );
    for (const { name } of due) {
      const job = this.registry.all().find((j) => j.name === name);
      if (!job?.options.cron) {
        continue;
      }
      await this.dataSource.transaction(async (manager) => {
        const claimed = await manager.query<{ name: string }[]>(
          'SELECT name FROM job_schedule WHERE name = $1 AND "nextRunAt" <= now() FOR UPDATE SKIP LOCKED',
          [name],
        );
        if (claimed.length > 0) {
          await manager.query('UPDATE job_schedule SET "nextRunAt" = $2 WHERE name = $1', [
            name,
            nextRun(job.options.cron!),
          ]);
          await this.enqueue(name, {}, {}, manager);
        }
      });
    }
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
        await this.run(job, {
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

  /**
   * One attempt of a job, on any backend: an info line when it starts, and one when it completes (with its
   * duration) or fails (with the error; at warn level when no retry is left), each with the job's name, id,
   * attempt and the id of the request that enqueued it. Metrics (JobsMetrics) count and time it too.
   */
  private async run(
    job: JobDefinition,
    bull: Pick<BullJob, 'data' | 'attemptsMade'> & { id?: string },
  ): Promise<void> {
    const attempt = bull.attemptsMade + 1;
    const jobId = String(bull.id);
    const fields = { job: job.name, jobId, requestId: jobMeta(bull.data).requestId, attempt };
    this.logger.log({ msg: `Job ${job.name} ${jobId} started (attempt ${attempt})`, ...fields });
    const started = performance.now();
    try {
      await this.metrics.track(job.name, () => this.process(job, bull));
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      const message = (error as Error).message;
      const final = isFinal(job, attempt, error);
      const line = {
        msg: `Job ${job.name} ${jobId} failed (attempt ${attempt}${final ? ', no retry left' : ''}): ${message}`,
        ...fields,
        durationMs,
        error: message,
      };
      if (final) {
        this.logger.warn(line);
      } else {
        this.logger.log(line);
      }
      if (error instanceof Error) {
        this.logged.add(error);
      }
      throw error;
    }
    const durationMs = Math.round(performance.now() - started);
    this.logger.log({ msg: `Job ${job.name} ${jobId} completed in ${durationMs} ms`, ...fields, durationMs });
  }

  private async process(
    job: JobDefinition,
    bull: Pick<BullJob, 'data' | 'attemptsMade'> & { id?: string },
  ): Promise<void> {
    let payload: object;
    try {
      payload = await this.registry.validatePayload(job, jobPayload(bull.data));
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
          await effect(manager, this.effectKey(key));
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

  /**
   * The outside idempotency key of a `once` effect: the same for its key on every run and delivery, and
   * keyed by SECRET_KEY, so two apps (or a staging copy) sharing a provider account never collide.
   */
  private effectKey(onceKey: string): string {
    this.effectSecret ??= deriveKey(this.config.secretKey, 'job-effects');
    return createHmac('sha256', this.effectSecret).update(onceKey).digest('base64url').slice(0, 32);
  }

  private postgres(): Pool {
    // One pool for every queue and worker; each worker also holds one of its clients to LISTEN.
    if (!this.pool) {
      this.pool = new Pool({
        connectionString: this.config.databaseUrl,
        options: `-c search_path="${BULLMQ_SCHEMA}"`, // bullmq's SQL uses unqualified names
        max: this.registry.all().length * 2 + 5,
      });
      // Every bullmq queue and worker listens for the pool's errors.
      this.pool.setMaxListeners(this.registry.all().length * 4 + 10);
      // An idle connection the server dropped: the pool replaces it; unhandled, it would end the process.
      this.pool.on('error', (error) => this.logger.warn(`Job backend connection: ${error.message}`));
    }
    return this.pool;
  }

  private redis(): IORedis.Redis {
    if (!this.connection) {
      // Workers block on Redis; bullmq requires maxRetriesPerRequest: null so a slow Redis never fails them.
      this.connection = new (ioredis().Redis)(this.config.redisUrl!, {
        maxRetriesPerRequest: null,
        lazyConnect: false,
      });
      this.connection.on('ready', () => void this.afterRedisReady());
    }
    return this.connection;
  }

  /**
   * On every (re)connection: a Redis with a new run_id is another server process (restarted, failed over),
   * which may have lost every queued job. Republish those now rather than at the next minute-scale
   * `recoverLost` sweep; the job id is the outbox id and effects go through `once`, so nothing runs twice.
   */
  private async afterRedisReady(): Promise<void> {
    try {
      const info = await this.connection!.info('server');
      const runId = /^run_id:(\w+)/m.exec(info)?.[1];
      const previous = this.redisRunId;
      this.redisRunId = runId ?? previous;
      if (previous && runId && runId !== previous) {
        this.logger.warn('Redis is a new server process (restarted or failed over): checking for lost jobs');
        const republished = await this.recoverLost(0, 10_000);
        this.logger.warn(`Redis restart: ${republished} lost job(s) republished`);
      }
    } catch (error) {
      this.logger.warn(`Redis restart check failed (the sweeper retries later): ${(error as Error).message}`);
    }
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
    await this.flushFinished(); // the last completions are marked before the database closes
    await Promise.all(this.flushing);
  }

  /** Close the queues once the HTTP server no longer accepts requests that could enqueue. */
  async onApplicationShutdown(): Promise<void> {
    const index = this.dataSource.subscribers.indexOf(this);
    if (index >= 0) {
      this.dataSource.subscribers.splice(index, 1);
    }
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.connection?.quit().catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
  }
}
