import { SetMetadata, Type } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** How a job runs. Example: `@Job('orders.send-confirmation', { payload: OrderIdDto, attempts: 5 })`. */
export interface JobOptions {
  /** class-validator class of the payload: checked at enqueue and again before handling. */
  payload: Type;
  /**
   * Tries in total (default 3). A payload that fails validation at handling is never retried. A run cut
   * short by a crashed worker is picked up again once its lock expires; a job whose runs are cut short 3
   * times in a row fails for good as a poison pill (as Sidekiq's super_fetch), retryable from the jobs API.
   */
  attempts?: number;
  /** First retry delay in ms, doubled each time with ±50 % jitter (default 1000). */
  backoff?: number;
  /** A run longer than this (ms) fails and is retried (default 60000). */
  timeout?: number;
  /** Jobs of this name run at once per worker process (default 1). */
  concurrency?: number;
  /** Lower runs first (bullmq priority: an integer from 1 to 2097151, 0 for none; default none). NST-J004 otherwise. */
  priority?: number;
  /** Cron schedule (e.g. `0 2 * * *`): reconciled at worker boot; the payload is `{}`. */
  cron?: string;
}

/** What a handler receives besides its payload. */
export interface JobContext {
  /** The job id, which is also the outbox id: stable across retries and republishing. */
  jobId: string;
  /** 1 on the first run, 2 on the first retry… */
  attempt: number;
  /**
   * Runs `effect` at most once per `key` across retries and duplicate deliveries: the key is recorded in
   * the same transaction as the effect's writes, so database effects through `manager` happen exactly once.
   * A call to an outside system (a payment provider, SMTP) can still repeat if the process dies between its
   * answer and the commit: `effect` gets `idempotencyKey`, the same on every run for this `key` (derived from
   * it and SECRET_KEY), to pass on as the provider's idempotency key so it can tell the repeat apart.
   * Example: `await ctx.once(`charge:${order.id}`, (m, key) => payments.charge(order, { idempotencyKey: key }))`.
   */
  once(
    key: string,
    effect: (manager: EntityManager, idempotencyKey: string) => Promise<void>,
  ): Promise<boolean>;
}

/** The metadata key `@Job` records under. Example: `Reflect.getMetadata(JOB_METADATA, MyJobs.prototype, 'run')`. */
export const JOB_METADATA = 'nestor:job';

/** What `@Job` records on a method. Example: `expect(declaration).toMatchObject<Partial<JobDeclaration>>({ name: 'x' })`. */
export interface JobDeclaration {
  name: string;
  options: JobOptions;
}

/**
 * Declares a job handler on a provider method: `(payload, context) => Promise<void>`.
 * Example: `@Job('catalog.low-stock-alert', { payload: ProductIdDto }) async alert(p: ProductIdDto, ctx: JobContext) {}`.
 */
export function Job(name: string, options: JobOptions): MethodDecorator {
  return SetMetadata(JOB_METADATA, { name, options } satisfies JobDeclaration);
}
