import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { UUID_RE } from 'src/framework/fields/formats';
import { OutageLog } from 'src/framework/logging/outage-log';

/** How long a completed job waits for its batched finished mark. */
const FINISH_BATCH_MS = 10;
/**
 * A batch whose UPDATE failed (a database blip, a failover) is retried after this, doubled each time up to
 * FINISH_RETRY_MAX_MS: until it lands, its jobs' dedupe keys stay taken and drain() waits for them.
 */
const FINISH_RETRY_MIN_MS = 10;
const FINISH_RETRY_MAX_MS = 5_000;
/** At shutdown, flush() keeps retrying a failing batch this long, then reports what it could not write. */
const FLUSH_RETRY_FOR_MS = 3_000;
/** An outbox row's id (a uuid), as opposed to ids bullmq gives scheduler runs. */
const UUID = UUID_RE;

/**
 * Settles outbox rows of jobs that ended: a finished row is no longer watched by the lost-job recovery, and
 * its dedupe key is free again. Completions are batched, and a batch that fails is retried with backoff;
 * `flush()` at shutdown writes the last ones.
 * Example: `await settler.markFinished(jobId, 'failed')`.
 */
@Injectable()
export class OutboxSettler implements OnApplicationShutdown {
  private readonly logger = new Logger('Jobs');
  /** A database outage fails every retry: said once, then summed up. */
  private readonly outages = new OutageLog(this.logger, 'The job outbox (completion marks)');
  /** Completed job ids waiting for the next batched UPDATE (finishLater), or for the retry of a failed one. */
  private finishing = new Set<string>();
  private finishTimer?: NodeJS.Timeout;
  private readonly flushing = new Set<Promise<void>>();
  /** The batches being written: a newer mark of one of their jobs takes it out, so a failure does not put it back. */
  private readonly writing = new Set<Set<string>>();
  /** The wait before the next retry; 0 while batches land. */
  private retryMs = 0;
  private closed = false;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records that a job ended (completed, failed for good, or removed by staff): its outbox row is no longer
   * watched, and its dedupe key is free again. A job that failed for good keeps its `error` in the row, so the
   * outbox says why without the queue's copy.
   */
  async markFinished(
    id: string | undefined,
    how: 'completed' | 'failed' = 'completed',
    error?: string,
  ): Promise<void> {
    // Only outbox jobs have a row (their id is its uuid); a cron run's id is the scheduler's own.
    if (id && UUID.test(id)) {
      this.supersede(id);
      await this.dataSource
        .query(
          `UPDATE job_outbox SET "finishedAt" = now(), "failedAt" = CASE WHEN $2 = 'failed' THEN now() END,
             "lastError" = COALESCE($3, "lastError")
           WHERE id = $1::uuid`,
          [id, how, error ?? null],
        )
        .catch((error: Error) => this.logger.warn(`Could not mark job ${id} ${how}: ${error.message}`));
    }
  }

  /**
   * Watches the row of a failed job again, for staff retrying it: call it before the retry, so that the
   * mark of a run that ends at once lands after this one instead of being erased by it. Unlike the other
   * marks it throws when it cannot be written: the retry must not go ahead with the row still saying failed.
   */
  async reopen(id: string): Promise<void> {
    if (UUID.test(id)) {
      this.supersede(id);
      await this.dataSource.query(
        'UPDATE job_outbox SET "finishedAt" = NULL, "failedAt" = NULL WHERE id = $1::uuid',
        [id],
      );
    }
  }

  /**
   * Undoes a reopen whose retry did not happen: the row says again how the job ended, as the queue has it
   * (`at`: when; `removed`: the job is gone, e.g. staff removed it meanwhile). A mark written since the
   * reopen is newer and stays.
   */
  async restore(
    id: string,
    how: 'completed' | 'failed' | 'removed',
    at: Date,
    error?: string,
  ): Promise<void> {
    if (UUID.test(id)) {
      await this.dataSource.query(
        `UPDATE job_outbox SET "finishedAt" = $2, "failedAt" = CASE WHEN $3 = 'failed' THEN $2::timestamptz END,
           "lastError" = COALESCE($4, "lastError")
         WHERE id = $1::uuid AND "finishedAt" IS NULL`,
        [id, at, how, error ?? null],
      );
    }
  }

  /** A newer mark of a job: a batched completion of it not written yet must not land after it. */
  private supersede(id: string): void {
    this.finishing.delete(id);
    for (const batch of this.writing) {
      batch.delete(id);
    }
  }

  /**
   * Marks a completed job finished with the next batch: one UPDATE every few milliseconds instead of one
   * (and one WAL flush) per job. A batch that fails is retried with backoff until the app closes.
   */
  finishLater(id: string | undefined): void {
    if (!id || !UUID.test(id)) {
      return;
    }
    this.finishing.add(id);
    this.finishTimer ??= setTimeout(() => void this.flushFinished(), FINISH_BATCH_MS);
  }

  private async flushFinished(): Promise<void> {
    clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
    if (this.finishing.size === 0) {
      return;
    }
    const batch = this.finishing;
    this.finishing = new Set();
    this.writing.add(batch);
    const flush = this.dataSource
      .query('UPDATE job_outbox SET "finishedAt" = now(), "failedAt" = NULL WHERE id = ANY($1::uuid[])', [
        [...batch],
      ])
      .then(
        () => this.written(),
        (error: Error) => this.failed(batch, error),
      )
      .finally(() => this.writing.delete(batch));
    this.flushing.add(flush);
    await flush;
    this.flushing.delete(flush);
  }

  private written(): void {
    if (this.retryMs > 0) {
      this.retryMs = 0;
      this.outages.recovered();
    }
  }

  /** Puts a failed batch back (but for jobs marked again since) and retries it after the backoff. */
  private failed(batch: Set<string>, error: Error): void {
    for (const id of batch) {
      this.finishing.add(id);
    }
    this.retryMs = Math.min(this.retryMs * 2 || FINISH_RETRY_MIN_MS, FINISH_RETRY_MAX_MS);
    this.outages.failed(`Could not mark ${batch.size} completed job(s) finished (retrying)`, error);
    if (!this.closed && this.finishing.size > 0) {
      clearTimeout(this.finishTimer);
      // Unref'd: a process that exits anyway leaves the rows to the lost-job recovery.
      this.finishTimer = setTimeout(() => void this.flushFinished(), this.retryMs).unref();
    }
  }

  /**
   * Writes the batched completions now and waits for every write under way (before the database closes).
   * A failing write is retried for up to FLUSH_RETRY_FOR_MS; the marks still not written are logged as an
   * error (the lost-job recovery of the next process settles their rows).
   */
  async flush(): Promise<void> {
    const deadline = Date.now() + FLUSH_RETRY_FOR_MS;
    for (;;) {
      await this.flushFinished();
      await Promise.all(this.flushing);
      if (this.finishing.size === 0) {
        return;
      }
      if (this.retryMs === 0) {
        continue; // completed while the last batch was written: write them too
      }
      const wait = Math.min(this.retryMs, deadline - Date.now());
      if (wait <= 0) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.logger.error(
      `Could not mark ${this.finishing.size} completed job(s) finished before shutdown: ${[...this.finishing].join(', ')}`,
    );
  }

  /** The database closes now: no more retries (flush() ran before, from JobsService). */
  onApplicationShutdown(): void {
    this.closed = true;
    clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
  }
}
