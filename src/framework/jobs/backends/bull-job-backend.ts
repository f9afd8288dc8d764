import { Logger } from '@nestjs/common';
import { Job as BullJob, Worker, WorkerOptions } from 'bullmq';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { JobBackend, JobQueue, OnPostgres } from 'src/framework/jobs/backends/job-backend';
import { JobRunner, jobMeta } from 'src/framework/jobs/job-runner';
import { OutageLog } from 'src/framework/logging/outage-log';
import { JobDefinition, JobRegistry } from 'src/framework/jobs/job.registry';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';

type PostgresWorker = InstanceType<typeof OnPostgres.Worker<object, unknown>>;
export type JobWorker = Worker<object, unknown> | PostgresWorker;
export type JobProcessor = (bull: BullJob) => Promise<void>;

/** What the Redis and PostgreSQL backends share: bullmq queues, workers, schedulers and their shutdown. */
export abstract class BullJobBackend extends JobBackend {
  readonly publishes = true;
  protected readonly logger = new Logger('Jobs');
  /** The queues' and workers' connection errors, once per outage: each of them reports every reconnect. */
  protected readonly outages = new OutageLog(this.logger, 'The job backend');
  private readonly queues = new Map<string, JobQueue>();
  private readonly workers: JobWorker[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    protected readonly config: NestorConfig,
    protected readonly registry: JobRegistry,
    private readonly runner: JobRunner,
    private readonly settler: OutboxSettler,
  ) {
    super();
  }

  /** A new bullmq queue on this backend's connection. */
  protected abstract newQueue(name: string): JobQueue;

  /** A new bullmq worker on this backend's connection. */
  protected abstract newWorker(
    name: string,
    processor: JobProcessor,
    options: Omit<WorkerOptions, 'connection'>,
  ): JobWorker;

  /** Closes this backend's connection once its queues are closed. */
  protected abstract closeConnection(): Promise<void>;

  queue(name: string): JobQueue {
    const existing = this.queues.get(name);
    if (existing) {
      return existing;
    }
    const queue = this.newQueue(name);
    // An 'error' event without a listener would end the process (e.g. the backend dropping a connection).
    queue.on('error', (error: Error) => this.outages.failed(`Queue ${name}`, error));
    this.queues.set(name, queue);
    return queue;
  }

  async syncSchedulers(declared: JobDefinition[], gone: string[]): Promise<void> {
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

  async startWorkers(): Promise<void> {
    await this.ready(); // otherwise the first publish does it
    for (const job of this.registry.all()) {
      this.workers.push(this.startWorker(job));
    }
  }

  private startWorker(job: JobDefinition): JobWorker {
    const options: Omit<WorkerOptions, 'connection'> = {
      concurrency: job.options.concurrency,
      // A crashed worker's job is picked up again once its lock expires.
      lockDuration: this.config.jobsLockDuration,
      stalledInterval: this.config.jobsLockDuration,
      // bullmq would fail a job past JOBS_MAX_STALLS without running anything; the runner decides instead (it
      // completes a job whose effects committed). Stored as a PostgreSQL integer by the PostgreSQL backend.
      maxStalledCount: (this.config.jobsMaxStalls + 1) * 1000,
    };
    const worker = this.newWorker(
      job.name,
      (bull: BullJob) => this.track(this.runner.run(job, bull)),
      options,
    );
    worker.on('failed', (failed, error) => {
      if (!this.runner.hasLogged(error)) {
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
        void this.settler.markFinished(failed.id, 'failed', error.message); // no retry left: it stays failed (and retryable)
      }
    });
    worker.on('completed', (completed) => this.settler.finishLater(completed.id));
    worker.on('error', (error) => this.outages.failed(`Worker ${job.name}`, error));
    return worker;
  }

  /** Remembers a running handler until it settles, for a shutdown without the server (stopWorkers). */
  private track(run: Promise<void>): Promise<void> {
    this.running.add(run);
    const settled = (): void => void this.running.delete(run);
    run.then(settled, settled);
    return run;
  }

  /** Whether the backend's server is connected now (the Redis backend says; PostgreSQL's pool reconnects). */
  protected reachable(): boolean {
    return true;
  }

  async stopWorkers(): Promise<void> {
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.config.jobsShutdownTimeout).unref(),
    );
    const late = (): void =>
      this.logger.warn('Jobs still running at the shutdown timeout: closing anyway (they will be retried)');
    if (!this.reachable()) {
      // bullmq's close waits for the server to come back; only the handlers already running are waited for.
      this.logger.warn('The job backend is unreachable: stopping the workers without it');
      this.workers.forEach((w) => void w.close(true).catch(() => undefined));
      if ((await Promise.race([Promise.allSettled(this.running), timeout])) === 'timeout') {
        late();
      }
      return;
    }
    const closed = Promise.all(this.workers.map((w) => w.close()));
    if ((await Promise.race([closed, timeout])) === 'timeout') {
      late();
      await Promise.all(this.workers.map((w) => w.close(true)));
    }
  }

  async close(): Promise<void> {
    if (this.reachable()) {
      await Promise.all([...this.queues.values()].map((q) => q.close()));
    }
    await this.closeConnection();
  }
}
