import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { UUID_RE } from 'src/framework/fields/formats';

/** How long a completed job waits for its batched finished mark. */
const FINISH_BATCH_MS = 10;
/** An outbox row's id (a uuid), as opposed to ids bullmq gives scheduler runs. */
const UUID = UUID_RE;

/**
 * Settles outbox rows of jobs that ended: a finished row is no longer watched by the lost-job recovery, and
 * its dedupe key is free again. Completions are batched; `flush()` at shutdown writes the last ones.
 * Example: `await settler.markFinished(jobId, 'failed')`.
 */
@Injectable()
export class OutboxSettler {
  private readonly logger = new Logger('Jobs');
  /** Completed job ids waiting for the next batched UPDATE (finishLater). */
  private readonly finishing = new Set<string>();
  private finishTimer?: NodeJS.Timeout;
  private readonly flushing = new Set<Promise<void>>();

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records that a job ended (completed, failed for good, or removed by staff): its outbox row is no longer
   * watched, and its dedupe key is free again. `reopen` undoes it for a job retried from the jobs API. A job
   * that failed for good keeps its `error` in the row, so the outbox says why without the queue's copy.
   */
  async markFinished(
    id: string | undefined,
    how: 'completed' | 'failed' | 'reopen' = 'completed',
    error?: string,
  ): Promise<void> {
    // Only outbox jobs have a row (their id is its uuid); a cron run's id is the scheduler's own.
    if (id && UUID.test(id)) {
      await this.dataSource
        .query(
          `UPDATE job_outbox SET "finishedAt" = CASE WHEN $2 = 'reopen' THEN NULL ELSE now() END,
             "failedAt" = CASE WHEN $2 = 'failed' THEN now() END,
             "lastError" = COALESCE($3, "lastError")
           WHERE id = $1::uuid`,
          [id, how, error ?? null],
        )
        .catch((error: Error) => this.logger.warn(`Could not mark job ${id} ${how}: ${error.message}`));
    }
  }

  /**
   * Marks a completed job finished with the next batch: one UPDATE every few milliseconds instead of one
   * (and one WAL flush) per job. Best effort, as markFinished: recoverLost settles a mark that never landed.
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

  /** Writes the batched completions now and waits for every write under way (before the database closes). */
  async flush(): Promise<void> {
    await this.flushFinished();
    await Promise.all(this.flushing);
  }
}
