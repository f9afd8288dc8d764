import { createPostgresBackend, Queue, withBackend } from 'bullmq';
import type { JobDefinition } from 'src/framework/jobs/job.registry';

/** A bullmq queue on whichever backend is configured. */
export const OnPostgres = withBackend(createPostgresBackend);
export type PostgresQueue = InstanceType<typeof OnPostgres.Queue<object, unknown>>;
export type JobQueue = Queue<object, unknown> | PostgresQueue;

/**
 * Where jobs run: bullmq on Redis, bullmq on PostgreSQL, or (development mode) this process reading the
 * outbox itself. The jobs module provides the configured one under this class; the outbox publisher, the
 * scheduler, the jobs API and `JobsService` talk to it only through these methods.
 * Example: `await backend.ready(); const job = await backend.queue('orders.send-confirmation').getJob(id)`.
 */
export abstract class JobBackend {
  /** False in development mode: the runner takes the rows from the outbox, nothing is published. */
  abstract readonly publishes: boolean;

  /** Resolves once the backend can take jobs (on PostgreSQL: bullmq's schema is migrated). */
  abstract ready(): Promise<void>;

  /**
   * The bullmq queue of a job name (one queue per job, so each has its own concurrency). Call `ready()`
   * first; the development-mode backend has no queues.
   */
  abstract queue(name: string): JobQueue;

  /** Makes the backend's schedulers match the declared crons (`gone`: jobs whose schedule was removed). */
  abstract syncSchedulers(declared: JobDefinition[], gone: string[]): Promise<void>;

  /**
   * Starts this process's job processing. `everyFewSeconds` runs with the development-mode runner's polls
   * (it fires due cron schedules there); bullmq backends schedule crons themselves and ignore it.
   */
  abstract startWorkers(everyFewSeconds: () => Promise<void>): Promise<void>;

  /** Stops fetching and lets running jobs finish within JOBS_SHUTDOWN_TIMEOUT. */
  abstract stopWorkers(): Promise<void>;

  /** Closes queues and connections, once nothing can enqueue any more. */
  abstract close(): Promise<void>;

  /** Called on a backend that may have lost its queued jobs (a Redis server restarted empty). */
  onLostQueues(_recover: () => Promise<void>): void {
    // Only Redis can lose acknowledged jobs; the others keep them in PostgreSQL.
  }
}
