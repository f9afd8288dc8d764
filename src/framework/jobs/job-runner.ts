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

/** One delivery of a job, as every backend hands it over. */
export type JobDelivery = Pick<BullJob, 'data' | 'attemptsMade'> & { id?: string };

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

  private async process(job: JobDefinition, bull: JobDelivery): Promise<void> {
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
}
