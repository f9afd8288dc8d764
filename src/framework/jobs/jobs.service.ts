import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { currentRequestId } from 'src/framework/http/request-id';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobScheduler } from 'src/framework/jobs/job-scheduler';
import {
  JobDefinition,
  JobOptionsError,
  JobPayloadError,
  JobRegistry,
  jobOptionProblems,
} from 'src/framework/jobs/job.registry';
import { OutboxPublisher } from 'src/framework/jobs/outbox-publisher';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';

/** How long a process running workers waits at boot for its schedules to reach the backend (then it goes on). */
const BOOT_RECONCILE_WAIT_MS = 5_000;

export interface EnqueueOptions {
  /** Milliseconds to wait after publication: an integer from 0 to 2147483647 (NST-J008 otherwise). */
  delay?: number;
  /** Overrides the job's declared priority: an integer from 0 (none) to 2097151, bullmq's range (NST-J008). */
  priority?: number;
  /**
   * While a job enqueued with this key is unfinished, enqueueing the same key again returns that job's id
   * and adds nothing (e.g. `stock-alert:product:42`).
   */
  dedupeKey?: string;
}

/**
 * The outbox columns every enqueued row of `job` gets from the options and the current request, or a
 * JobOptionsError (NST-J008) for options the queue would refuse.
 */
function outboxColumns(job: JobDefinition, options: EnqueueOptions) {
  const problems = jobOptionProblems(options);
  if (problems.length > 0) {
    throw new JobOptionsError(job.name, problems);
  }
  return {
    delay: options.delay ?? null,
    priority: options.priority ?? job.options.priority ?? null,
    runAt: options.delay ? new Date(Date.now() + options.delay) : null, // the development-mode runner's clock
    requestId: currentRequestId() ?? null,
  };
}

/**
 * The payload as the outbox stores it (JSON text) and as the worker will read it back (parsed): a Date
 * becomes a string, a class instance a plain object. Enqueue validates the parsed one, so a payload the
 * worker would refuse (NST-J006) is refused at enqueue instead.
 */
function storedPayload(job: JobDefinition, payload: unknown): { json: string; parsed: unknown } {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    // A BigInt or a cycle: the outbox could not hold it.
    throw new JobPayloadError(job.name, [`the payload is not JSON: ${(error as Error).message}`]);
  }
  // undefined (a function, a symbol): not an object, as validatePayload says.
  return { json: json ?? 'null', parsed: json === undefined ? undefined : (JSON.parse(json) as unknown) };
}

/**
 * Enqueues jobs through a transactional outbox and runs their processors on bullmq (Redis or PostgreSQL;
 * in development mode on the embedded database, from the outbox table itself).
 * Inside a transaction (`enqueue(…, manager)`), the job is published only after commit; a rollback means it
 * never existed. A sweeper republishes rows a crash left unpublished; the outbox id is the bullmq job id,
 * so a row published twice is still one job.
 * Example: `await jobs.enqueue('orders.send-confirmation', { orderId }, {}, manager)`.
 */
@Injectable()
export class JobsService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Jobs');

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: JobRegistry,
    private readonly config: NestorConfig,
    private readonly backend: JobBackend,
    private readonly publisher: OutboxPublisher,
    private readonly scheduler: JobScheduler,
    private readonly settler: OutboxSettler,
  ) {}

  /**
   * Validates the payload as the worker will get it, after its JSON round trip (a JobPayloadError lists
   * every problem; nothing is written), and the options (a JobOptionsError), then records the job.
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
    const { delay, priority, runAt, requestId } = outboxColumns(job, options);
    const { json, parsed } = storedPayload(job, payload);
    await this.registry.validatePayload(job, parsed);
    const runner = manager ?? this.dataSource.manager;
    const [inserted] = await runner.query<{ id: string }[]>(
      `INSERT INTO job_outbox (name, payload, delay, priority, "runAt", "dedupeKey", "requestId")
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT ("dedupeKey") WHERE "finishedAt" IS NULL DO NOTHING RETURNING id`,
      [name, json, delay, priority, runAt, options.dedupeKey ?? null, requestId],
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
    // The parsed payload, not its text: the publisher need not parse it again.
    this.publisher.publishAfterCommit(
      [{ id: inserted.id, name, payload: parsed as object, delay, priority, requestId }],
      manager,
    );
    return inserted.id;
  }

  /**
   * Enqueues many jobs of one name in one INSERT (as bullmq's addBulk or Sidekiq's push_bulk): the options and
   * every payload (as `enqueue`, after its JSON round trip) are validated first, and one invalid payload
   * enqueues nothing (its JobPayloadError names its index).
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
    const { delay, priority, runAt, requestId } = outboxColumns(job, options);
    const json: string[] = [];
    const parsed: object[] = [];
    for (const [index, payload] of payloads.entries()) {
      try {
        const stored = storedPayload(job, payload);
        await this.registry.validatePayload(job, stored.parsed);
        json.push(stored.json);
        parsed.push(stored.parsed as object);
      } catch (error) {
        throw error instanceof JobPayloadError
          ? new JobPayloadError(
              name,
              error.problems.map((problem) => `[${index}] ${problem}`),
            )
          : error;
      }
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
      [name, ids, json, delay, priority, runAt, requestId],
    );
    this.publisher.publishAfterCommit(
      ids.map((id, i) => ({ id, name, payload: parsed[i], delay, priority, requestId })),
      manager,
    );
    return ids;
  }

  /**
   * Resolves once every job in the outbox has finished (completed or failed for good), including jobs those
   * jobs enqueued; rejects after `timeoutMs`. For tests and scripts that must see a job's effects:
   * `await t.app.get(JobsService).drain()`. Cron runs started by a bullmq scheduler are not waited for.
   */
  async drain(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // EXISTS stops at the first unfinished row (the partial dedupe index holds only those); a count would
      // walk all of them every 50 ms while thousands are queued, beside the workers it waits for.
      const [{ busy }] = await this.dataSource.query<{ busy: boolean }[]>(
        'SELECT EXISTS (SELECT 1 FROM job_outbox WHERE "finishedAt" IS NULL) AS busy',
      );
      if (!busy) {
        return;
      }
      if (Date.now() > deadline) {
        const [{ n }] = await this.dataSource.query<{ n: number }[]>(
          'SELECT count(*)::int AS n FROM job_outbox WHERE "finishedAt" IS NULL',
        );
        throw new Error(`${n} job(s) still unfinished after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    this.publisher.subscribe();
    if (!this.backend.publishes) {
      if (this.config.workers === 'inline' && this.registry.all().length > 0) {
        this.logger.warn(
          'No REDIS_URL or DATABASE_URL: jobs run in this process from the outbox (development mode)',
        );
        await this.scheduler.reconcileSchedules();
        await this.backend.startWorkers(() =>
          this.scheduler
            .reconcileSchedules()
            .then(() =>
              this.scheduler.fireDueSchedules((name, manager) => this.enqueue(name, {}, {}, manager)),
            ),
        );
      }
      return;
    }
    this.publisher.startSweeper(() => this.scheduler.reconcileSchedules());
    if (this.config.workers === 'inline') {
      await this.backend.startWorkers(() => Promise.resolve());
      await this.scheduler.reconcileSchedules(BOOT_RECONCILE_WAIT_MS);
    }
  }

  /**
   * Stop fetching, let running jobs finish within JOBS_SHUTDOWN_TIMEOUT. This runs before every
   * onApplicationShutdown hook, so the database (closed by TypeORM's) is still there for the running jobs.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.publisher.stopSweeper();
    await this.backend.stopWorkers();
    await this.settler.flush(); // the last completions are marked before the database closes
  }

  /** Close the queues once the HTTP server no longer accepts requests that could enqueue. */
  async onApplicationShutdown(): Promise<void> {
    this.publisher.unsubscribe();
    await this.backend.close();
  }
}
