import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent } from 'typeorm';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { withJobMeta } from 'src/framework/jobs/job-runner';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';
import { AfterCommitQueue } from 'src/framework/database/after-commit';
import { STATEMENT_SAFE } from 'src/framework/database/statement-safe';
import { OutageLog } from 'src/framework/logging/outage-log';

/** Outbox rows older than this and still unpublished are republished by the sweeper. */
const SWEEP_AFTER_MS = 5_000;
/** Published rows not finished after this long are checked against Redis and republished if lost. */
const LOST_AFTER_MS = 60_000;
/** Finished outbox rows are kept this long (for inspection), then pruned. */
const KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000;
/**
 * How often a process prunes them. The DELETE reads the whole outbox (no index on finishedAt, which every
 * finished job would pay for): 0.3-0.45 s at 300k rows, too much for every recovery pass (about 30 s).
 */
const PRUNE_EVERY_MS = 3600 * 1000;
const SWEEP_EVERY_MS = 2_000;
/** With '-infinity', the recovery's cursor before every row. */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** An outbox row as the publisher reads it (`payload` parsed: node-postgres parses jsonb). */
export interface OutboxRow {
  id: string;
  name: string;
  payload: object;
  delay: number | null;
  priority: number | null;
  requestId: string | null;
}

/**
 * Moves outbox rows onto the backend's queues: after the enqueueing transaction commits (a rollback means
 * the job never existed), and from a sweeper that republishes what a crash left unpublished and what the
 * queue lost. The outbox id is the bullmq job id, so a row published twice is still one job.
 * Example: `await publisher.sweep()` republishes rows older than a few seconds.
 */
@Injectable()
export class OutboxPublisher implements EntitySubscriberInterface {
  /** Publishes only what a transaction enqueued: a one-statement write enqueues nothing. */
  readonly [STATEMENT_SAFE] = true;

  private readonly logger = new Logger('Jobs');
  /** Rows enqueued in a transaction, published once it commits. */
  private readonly pending = new AfterCommitQueue<OutboxRow>('nestor:pending-outbox-rows');
  /** A sweep fails every SWEEP_EVERY_MS while the database or the backend is away: said once, then summed up. */
  private readonly sweepOutages = new OutageLog(this.logger, 'The job outbox');
  private sweeper?: NodeJS.Timeout;
  /** Where the next recoverLost pass starts: the (publishedAt, id) its last page ended on. */
  private lostAfter?: string[];
  /** When recoverLost next prunes finished rows (Date.now()); the first pass does. */
  private pruneAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: JobRegistry,
    private readonly backend: JobBackend,
    private readonly settler: OutboxSettler,
  ) {
    backend.onLostQueues(async () => {
      const republished = await this.recoverAllLost();
      this.logger.warn(`Redis restart: ${republished} lost job(s) republished`);
    });
  }

  /** Starts publishing after commits (TypeORM calls this subscriber after every transaction). */
  subscribe(): void {
    this.dataSource.subscribers.push(this);
  }

  unsubscribe(): void {
    const index = this.dataSource.subscribers.indexOf(this);
    if (index >= 0) {
      this.dataSource.subscribers.splice(index, 1);
    }
  }

  /**
   * Publishes new outbox rows (as just inserted, payloads as enqueue validated them) after `manager`'s
   * transaction commits, or now (in the background). They are not read back: the caller wrote them, nothing
   * else has.
   */
  publishAfterCommit(rows: OutboxRow[], manager?: EntityManager): void {
    if (!this.backend.publishes) {
      return; // development mode: the runner takes the rows from the outbox itself
    }
    const queryRunner = manager?.queryRunner;
    if (queryRunner?.isTransactionActive) {
      this.pending.add(queryRunner, rows);
    } else {
      // The rows are durable already: publish in the background so a Redis outage never holds the caller
      // (commands wait for Redis to come back); the sweeper covers a publish that does not complete.
      this.publishRows(rows).catch((error: Error) =>
        this.logger.warn(`Publish deferred to the sweeper: ${error.message}`),
      );
    }
  }

  /**
   * TypeORM calls this after every commit: publish what the transaction enqueued once the outermost one
   * has committed, not when a nested `transaction()` inside it releases its savepoint.
   */
  afterTransactionCommit(event: TransactionCommitEvent): void {
    const rows = this.pending.committed(event.queryRunner);
    if (rows?.length) {
      // Publication failures leave the rows for the sweeper; the request that committed is not failed.
      this.publishRows(rows).catch((error: Error) =>
        this.logger.warn(`Publish deferred to the sweeper: ${error.message}`),
      );
    }
  }

  afterTransactionRollback(event: TransactionCommitEvent): void {
    this.pending.rolledBack(event.queryRunner);
  }

  /** Publishes the outbox rows of these ids not published yet (idempotent: the job id is the row id). */
  async publish(ids: string[]): Promise<void> {
    if (!this.backend.publishes) {
      return; // development mode: the runner takes the rows from the outbox itself
    }
    const rows = await this.dataSource.query<OutboxRow[]>(
      `SELECT id, name, payload, delay, priority, "requestId" FROM job_outbox
        WHERE id = ANY($1) AND "publishedAt" IS NULL`,
      [ids],
    );
    await this.publishRows(rows);
  }

  /** Adds committed outbox rows to their queues and marks them published. */
  private async publishRows(rows: OutboxRow[]): Promise<void> {
    await this.backend.ready();
    // One bulk add per queue (a single round trip for a whole sweep), then one UPDATE for the batch.
    const byName = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const batch = byName.get(row.name);
      if (batch) {
        batch.push(row);
      } else {
        byName.set(row.name, [row]);
      }
    }
    // Each job's batch on its own: one that cannot be published holds back none of the others.
    let failure: Error | undefined;
    for (const [name, batch] of byName) {
      try {
        await this.publishBatch(name, batch);
      } catch (error) {
        failure ??= error as Error;
      }
    }
    if (failure) {
      throw failure;
    }
  }

  /** Adds one job's rows to its queue and marks them published. */
  private async publishBatch(name: string, batch: OutboxRow[]): Promise<void> {
    const job = this.registry.get(name);
    await this.backend.queue(name).addBulk(
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

  /**
   * Republishes jobs Redis lost: published, not finished, and no longer known to the queue (a flushed
   * instance; a restarted one is caught at once, see onLostQueues), and settles rows whose job ended while
   * its finished mark did not land. Each call (the sweeper's, every 30 s or so) checks the next `limit`
   * rows after where the last one stopped, so a backlog, or a thousand reminders due next week, never hides
   * the rows behind it; a delayed job is checked once it is due. Once an hour it also deletes the rows that
   * finished over a week ago. Returns how many were republished.
   */
  async recoverLost(olderThanMs = LOST_AFTER_MS, limit = 200): Promise<number> {
    const page = await this.recoverPage({ olderThanMs, limit, after: this.lostAfter, dueOnly: true });
    this.lostAfter = page.last;
    if (Date.now() >= this.pruneAt) {
      await this.dataSource.query(
        'DELETE FROM job_outbox WHERE "finishedAt" < now() - make_interval(secs => $1)',
        [KEEP_FINISHED_MS / 1000],
      );
      this.pruneAt = Date.now() + PRUNE_EVERY_MS;
    }
    return page.republished;
  }

  /** After Redis lost its queues (a new server process): every published, unfinished row, due or not. */
  private async recoverAllLost(): Promise<number> {
    let republished = 0;
    let after: string[] | undefined;
    do {
      const page = await this.recoverPage({ olderThanMs: 0, limit: 1_000, after, dueOnly: false });
      republished += page.republished;
      after = page.last;
    } while (after);
    return republished;
  }

  /**
   * One page of published, unfinished rows in (publishedAt, id) order after `after`; `last` is the key to
   * go on from, or undefined once the page was the last. A republished delayed job keeps its due time.
   */
  private async recoverPage(page: {
    olderThanMs: number;
    limit: number;
    after?: string[];
    dueOnly: boolean;
  }): Promise<{ republished: number; last?: string[] }> {
    const { olderThanMs, limit, after, dueOnly } = page;
    // publishedAt as text: a JS Date drops the microseconds, and the rows of one batch share one instant.
    // Ordered by the column, as the cursor compares, not by that text (whose order is not the instants' outside
    // UTC). No index serves this order: one on ("publishedAt", id) of unfinished rows cost ~8 µs of PostgreSQL's
    // CPU per job (an entry at every publish), where a pass over a backlog of 100k queued jobs costs ~150 ms
    // every 30 s.
    const rows = await this.dataSource.query<{ id: string; name: string; publishedAt: string }[]>(
      `SELECT id, name, "publishedAt"::text AS "publishedAt" FROM job_outbox
        WHERE "finishedAt" IS NULL AND "publishedAt" < now() - make_interval(secs => $1)
          AND ("publishedAt", id) > ($3::timestamptz, $4::uuid)
          AND (NOT $5 OR delay IS NULL
               OR "publishedAt" + make_interval(secs => delay / 1000.0) < now() - make_interval(secs => $1))
        ORDER BY job_outbox."publishedAt", job_outbox.id LIMIT $2`,
      [olderThanMs / 1000, limit, after?.[0] ?? '-infinity', after?.[1] ?? NIL_UUID, dueOnly],
    );
    const lost: string[] = [];
    if (rows.length > 0) {
      await this.backend.ready();
    }
    for (const row of rows) {
      const job = await this.backend.queue(row.name).getJob(row.id);
      if (!job) {
        lost.push(row.id);
        continue;
      }
      // Ended, but the worker's own markFinished did not land (it is best effort): settle the row now,
      // or drain() would wait for it forever and the dedupe key would stay taken.
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') {
        await this.settler.markFinished(row.id, state, state === 'failed' ? job.failedReason : undefined);
      }
    }
    if (lost.length > 0) {
      // The delay counts from publication: what is left of it, so the job still runs when it was due.
      await this.dataSource.query(
        `UPDATE job_outbox SET "publishedAt" = NULL,
           delay = GREATEST(0, delay - floor(extract(epoch FROM now() - "publishedAt") * 1000))::int
         WHERE id = ANY($1)`,
        [lost],
      );
      await this.publish(lost);
      this.logger.warn(`Republished ${lost.length} job(s) the queue had lost`);
    }
    const last = rows.at(-1);
    return {
      republished: lost.length,
      last: rows.length === limit && last ? [last.publishedAt, last.id] : undefined,
    };
  }

  /**
   * Republishes rows left unpublished (e.g. the process died between commit and publish), of the jobs this
   * process declares: a row of a job only a newer deploy knows is left to that deploy's processes, and one
   * of a job removed from the code stays in the outbox (where the jobs API shows it) without holding back
   * the rows behind it.
   */
  async sweep(): Promise<number> {
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM job_outbox WHERE "publishedAt" IS NULL AND "createdAt" < now() - make_interval(secs => $1)
          AND name = ANY($2)
        ORDER BY "createdAt" LIMIT 500`,
      [SWEEP_AFTER_MS / 1000, this.registry.all().map((job) => job.name)],
    );
    if (rows.length > 0) {
      await this.publish(rows.map((r) => r.id));
    }
    return rows.length;
  }

  /**
   * Sweeps every few seconds: unpublished rows, and about every 30 s lost ones; `afterEach` runs after each
   * pass (the scheduler retries its reconciliation there).
   */
  startSweeper(afterEach: () => Promise<void>): void {
    let ticks = 0;
    let sweeping = false;
    this.sweeper = setInterval(() => {
      if (sweeping) {
        return; // during a Redis outage a sweep waits; never pile up more behind it
      }
      sweeping = true;
      const recover = ++ticks % 15 === 0; // about every 30 s: one Redis lookup per unfinished job
      (recover ? this.sweep().then(() => this.recoverLost()) : this.sweep())
        .then(afterEach)
        .then(
          () => this.sweepOutages.recovered(),
          (error: Error) => this.sweepOutages.failed('Outbox sweep failed', error),
        )
        .finally(() => {
          sweeping = false;
        });
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  stopSweeper(): void {
    clearInterval(this.sweeper);
  }
}
