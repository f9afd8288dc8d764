import { Injectable, Logger } from '@nestjs/common';
import { CronExpressionParser } from 'cron-parser';
import { DataSource, EntityManager } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobRegistry } from 'src/framework/jobs/job.registry';

/** The next time a cron expression fires after now. */
export function nextRun(cron: string): Date {
  return CronExpressionParser.parse(cron).next().toDate();
}

/** Enqueues a job with an empty payload inside `manager`'s transaction (JobsService.enqueue). */
export type EnqueueIn = (name: string, manager: EntityManager) => Promise<unknown>;

/**
 * Keeps cron schedules (`@Job({ cron })`) in step with the code: the backend's schedulers and the
 * `job_schedule` table; in development mode it also fires the due ones.
 * Example: `await scheduler.reconcileSchedules()` at a worker's boot.
 */
@Injectable()
export class JobScheduler {
  private readonly logger = new Logger('Jobs');
  private schedulesReconciled = false;
  private reconciling?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: JobRegistry,
    private readonly config: NestorConfig,
    private readonly backend: JobBackend,
  ) {}

  /**
   * Schedules are declared in code; the worker boot makes the backend match: declared crons are upserted,
   * and a scheduler whose cron (or whose whole job) was removed from the code disappears. `job_schedule`
   * remembers what was declared, which is how a deleted job's scheduler is found. Until it succeeds once
   * (in production the tables may wait for `nestor migrate`), the sweeper tries again; never in processes
   * that run no workers. Waits at most `waitMs` for an attempt (boot must not wait for Redis forever).
   */
  async reconcileSchedules(waitMs = Infinity): Promise<void> {
    if (this.schedulesReconciled || this.config.workers !== 'inline') {
      return;
    }
    // One attempt at a time: with Redis away, bullmq's commands wait for it instead of failing.
    this.reconciling ??= this.reconcile()
      .then(
        () => void (this.schedulesReconciled = true),
        (error: Error) => this.logger.warn(`Schedules not reconciled yet (retrying): ${error.message}`),
      )
      .finally(() => (this.reconciling = undefined));
    if (!Number.isFinite(waitMs)) {
      return this.reconciling;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, waitMs, 'late')));
    const outcome = await Promise.race([this.reconciling, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.logger.warn(
        `Schedules not reconciled yet: the job backend has not answered in ${waitMs} ms (still trying)`,
      );
    }
  }

  private async reconcile(): Promise<void> {
    const declared = this.registry.all().filter((job) => job.options.cron);
    const recorded = await this.dataSource.query<{ name: string }[]>('SELECT name FROM job_schedule');
    const gone = recorded.map((r) => r.name).filter((name) => !declared.some((job) => job.name === name));
    await this.backend.syncSchedulers(declared, gone);
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

  /** Development mode: enqueues each due schedule once (the row lock makes concurrent runners agree). */
  async fireDueSchedules(enqueue: EnqueueIn): Promise<void> {
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
          await enqueue(name, manager);
        }
      });
    }
  }
}
