import { Injectable, Logger } from '@nestjs/common';
import { Job as BullJob, UnrecoverableError } from 'bullmq';
import { createHmac } from 'node:crypto';
import { DataSource } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { deriveKey } from 'src/framework/crypto/keys';
import type { JobContext } from 'src/framework/jobs/job.decorator';
import { JobDefinition, JobPayloadError, JobRegistry } from 'src/framework/jobs/job.registry';
import { JobsMetrics } from 'src/framework/jobs/jobs.metrics';

/**
 * What a job carries besides its payload, under one reserved key of the bullmq job data (bullmq has no
 * other per-job field that every backend keeps).
 */
interface JobMeta {
  requestId?: string;
}
const META_KEY = '$nestor';

/** The job data to publish: the payload, plus its metadata when there is any. */
export function withJobMeta(payload: object, meta: JobMeta): object {
  return meta.requestId ? { ...payload, [META_KEY]: meta } : payload;
}

/** The metadata of published job data. */
export function jobMeta(data: unknown): JobMeta {
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
export function isFinal(job: JobDefinition, attempt: number, error: unknown): boolean {
  return error instanceof UnrecoverableError || attempt >= job.options.attempts;
}

/** The `job_effect` key recording that a job's handler returned on a delivery that bullmq may not see end. */
const RETURNED = '$returned:';

/** One delivery of a job, as every backend hands it over (`stalledCounter`: times its worker died under it). */
export type JobDelivery = Pick<BullJob, 'data' | 'attemptsMade'> & { id?: string; stalledCounter?: number };

/** Runs one attempt of a job on any backend: validation, timeout, `once` effects, logs and metrics. */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger('Jobs');
  private effectSecret?: Buffer;
  /** Errors run() has logged already: bullmq's 'failed' event must not log them a second time. */
  private readonly logged = new WeakSet<Error>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: JobRegistry,
    private readonly config: NestorConfig,
    private readonly metrics: JobsMetrics,
  ) {}

  /** Whether run() logged this error already. */
  hasLogged(error: Error): boolean {
    return this.logged.has(error);
  }

  /**
   * One attempt of a job, on any backend: an info line when it starts, and one when it completes (with its
   * duration) or fails (with the error; at warn level when no retry is left), each with the job's name, id,
   * attempt and the id of the request that enqueued it. Metrics (JobsMetrics) count and time it too.
   */
  async run(job: JobDefinition, bull: JobDelivery): Promise<void> {
    const attempt = bull.attemptsMade + 1;
    const jobId = String(bull.id);
    const fields = { job: job.name, jobId, requestId: jobMeta(bull.data).requestId, attempt };
    this.logger.log({ msg: `Job ${job.name} ${jobId} started (attempt ${attempt})`, ...fields });
    const started = performance.now();
    try {
      await this.process(job, bull);
    } catch (error) {
      const elapsed = performance.now() - started;
      this.metrics.observe(job.name, 'failed', elapsed / 1000);
      const durationMs = Math.round(elapsed);
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
    const elapsed = performance.now() - started;
    this.metrics.observe(job.name, 'completed', elapsed / 1000);
    const durationMs = Math.round(elapsed);
    this.logger.log({ msg: `Job ${job.name} ${jobId} completed in ${durationMs} ms`, ...fields, durationMs });
  }

  private async process(job: JobDefinition, bull: JobDelivery): Promise<void> {
    const stalls = bull.stalledCounter ?? 0;
    // bullmq's own limit (maxStalledCount) would fail such a job without running anything, even when its
    // effects had all committed; the runner applies the limit itself (bullmq's is set out of reach), so that
    // it can look at what the job did first.
    if (stalls > this.config.jobsMaxStalls) {
      await this.settleStalled(job, bull, stalls);
      return;
    }
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
    if (stalls > 0) {
      // Cut short before: if this process dies too before bullmq records the completion, the next delivery
      // must know the handler ran to its end. Only redelivered jobs pay for this write.
      await this.dataSource.query(
        'INSERT INTO job_effect (key, "jobId") VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
        [RETURNED + String(bull.id), String(bull.id)],
      );
    }
  }

  /**
   * A job whose worker died under it more than JOBS_MAX_STALLS times. If its handler returned on some
   * delivery, the work is done and only its completion was lost with the workers: it completes now, without
   * running again. Otherwise it fails for good (recorded, retryable by staff), without running again: a
   * poison pill, or a handler cut short between two `once` effects, whose later effects nothing can vouch
   * for. A retry runs the handler again, and the `once` effects that committed do not run twice.
   */
  private async settleStalled(job: JobDefinition, bull: JobDelivery, stalls: number): Promise<void> {
    const jobId = String(bull.id);
    const [done] = await this.dataSource.query<{ returned: boolean; effects: number }[]>(
      `SELECT bool_or(key = $2) AS returned, count(*)::int AS effects FROM job_effect WHERE "jobId" = $1`,
      [jobId, RETURNED + jobId],
    );
    if (!done?.returned) {
      const effects = done?.effects ?? 0;
      throw new UnrecoverableError(
        `job stalled more than allowable limit: its worker died ${stalls} times ` +
          (effects > 0
            ? `before its handler returned (${effects} once effect(s) committed; a retry does not run them again)`
            : 'before any of its effects committed'),
      );
    }
    this.logger.warn({
      msg: `Job ${job.name} ${jobId}: its worker died ${stalls} times after its handler returned: completed without running again`,
      job: job.name,
      jobId,
      stalls,
    });
  }

  /**
   * The outside idempotency key of a `once` effect: the same for its key on every run and delivery, and
   * keyed by SECRET_KEY, so two apps (or a staging copy) sharing a provider account never collide.
   */
  private effectKey(onceKey: string): string {
    this.effectSecret ??= deriveKey(this.config.secretKey, 'job-effects');
    return createHmac('sha256', this.effectSecret).update(onceKey).digest('base64url').slice(0, 32);
  }
}
