import { Logger } from '@nestjs/common';
import { Job as BullJob } from 'bullmq';
import { DataSource } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { jobPayload } from 'src/framework/jobs/job-runner';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import {
  JOB_STATES,
  JobCountsDto,
  JobDto,
  JobListDto,
  JobScheduleDto,
  JobStateName,
} from 'src/framework/jobs/jobs-admin.dto';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';

/** What `/admin/api/jobs` reads and does, whichever backend runs the jobs. */
export interface JobsInspector {
  counts(name: string): Promise<JobCountsDto>;
  list(name: string, state: JobStateName, offset: number, limit: number): Promise<JobListDto>;
  /** One job with its current state; 404 when unknown. */
  get(name: string, id: string): Promise<JobDto>;
  /** Moves a failed job back to waiting; 404 when unknown, 409 when not failed. */
  retry(name: string, id: string): Promise<JobDto>;
  /** Removes a job that is not running; 404 when unknown, 409 while it runs. */
  remove(name: string, id: string): Promise<void>;
  /** Declared schedules and any left in the backend, with their next run. */
  schedules(): Promise<JobScheduleDto[]>;
}

/** Lines of each failed run's stack trace the API returns. */
const STACK_LINES = 8;

const iso = (at: number | Date | null | undefined): string | null => (at ? new Date(at).toISOString() : null);

export function notFound(detail: string): ProblemException {
  return new ProblemException({ type: PROBLEM_TYPES.notFound, title: 'Not found', status: 404, detail });
}

export function conflict(detail: string): ProblemException {
  return new ProblemException({ type: PROBLEM_TYPES.conflict, title: 'Conflict', status: 409, detail });
}

function zeroCounts(): JobCountsDto {
  return { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0, paused: 0, prioritized: 0 };
}

/** The bullmq backends (Redis and PostgreSQL): the queues' own view. */
export class BullInspector implements JobsInspector {
  private readonly logger = new Logger('Jobs');

  constructor(
    private readonly backend: JobBackend,
    private readonly settler: OutboxSettler,
    private readonly registry: JobRegistry,
  ) {}

  async counts(name: string): Promise<JobCountsDto> {
    await this.backend.ready();
    const queue = this.backend.queue(name);
    const [counts, paused] = await Promise.all([queue.getJobCounts(...JOB_STATES), queue.isPaused()]);
    return { ...zeroCounts(), ...counts, paused: paused ? (counts.waiting ?? 0) : 0 };
  }

  async list(name: string, state: JobStateName, offset: number, limit: number): Promise<JobListDto> {
    await this.backend.ready();
    const queue = this.backend.queue(name);
    const [jobs, total] = await Promise.all([
      queue.getJobs([state], offset, offset + limit - 1, false),
      queue.getJobCountByTypes(state),
    ]);
    return { items: jobs.filter((job) => job !== undefined).map((job) => this.toDto(job, state)), total };
  }

  async get(name: string, id: string): Promise<JobDto> {
    const job = await this.jobOf(name, id);
    return this.toDto(job, await job.getState());
  }

  async retry(name: string, id: string): Promise<JobDto> {
    const job = await this.jobOf(name, id);
    const state = await job.getState();
    if (state !== 'failed') {
      throw conflict(`Job ${id} is ${state}: only failed jobs can be retried.`);
    }
    // Watched again until it ends, from before it can run: written after the retry, this mark could land
    // after the failure mark of a run that fails at once, and erase it.
    await this.settler.reopen(id);
    try {
      await job.retry('failed');
    } catch (error) {
      await this.settleNotRetried(name, job);
      throw conflict(`Job ${id} could not be retried: ${(error as Error).message}`);
    }
    const retried = await this.jobOf(name, id);
    return this.toDto(retried, await retried.getState());
  }

  /**
   * A retry that failed after its reopen: the row says again how the job ended, as the queue has it now,
   * unless the job is queued or running again (someone else's retry): then it is rightly watched. Best
   * effort: a row left reopened is settled from the queue by the lost-job recovery.
   */
  private async settleNotRetried(name: string, job: BullJob): Promise<void> {
    const id = String(job.id);
    try {
      // When the queue does not answer, the job as read before the retry: still failed, most likely.
      const now = await this.backend
        .queue(name)
        .getJob(id)
        .then(async (current?: BullJob) => ({ job: current, state: current && (await current.getState()) }))
        .catch(() => ({ job, state: 'failed' }));
      const endedAt = (at: number | undefined): Date => new Date(at ?? Date.now());
      if (!now.job || now.state === 'unknown') {
        await this.settler.restore(id, 'removed', new Date()); // gone: nothing to watch or bring back
      } else if (now.state === 'failed') {
        await this.settler.restore(id, 'failed', endedAt(now.job.finishedOn), now.job.failedReason);
      } else if (now.state === 'completed') {
        await this.settler.restore(id, 'completed', endedAt(now.job.finishedOn));
      }
    } catch (error) {
      this.logger.warn(
        `Could not settle job ${id} again after its failed retry: ${(error as Error).message}`,
      );
    }
  }

  async remove(name: string, id: string): Promise<void> {
    const job = await this.jobOf(name, id);
    try {
      await job.remove();
    } catch (error) {
      throw conflict(`Job ${id} could not be removed: ${(error as Error).message}`);
    }
    await this.settler.markFinished(id); // removed on purpose: the lost-job recovery must not bring it back
  }

  async schedules(): Promise<JobScheduleDto[]> {
    await this.backend.ready();
    const perQueue = await Promise.all(
      this.registry.all().map(async (job) => {
        const registered = await this.backend.queue(job.name).getJobSchedulers();
        const declaredKey = job.options.cron ? `cron:${job.name}` : undefined;
        const list: JobScheduleDto[] = registered.map((s) => ({
          name: job.name,
          key: s.key,
          cron: s.pattern ?? (s.every ? `every ${s.every} ms` : ''),
          next: iso(s.next),
          declared: s.key === declaredKey,
          registered: true,
        }));
        if (declaredKey && job.options.cron && !registered.some((s) => s.key === declaredKey)) {
          list.push({
            name: job.name,
            key: declaredKey,
            cron: job.options.cron,
            next: null,
            declared: true,
            registered: false,
          });
        }
        return list;
      }),
    );
    return perQueue.flat();
  }

  private async jobOf(name: string, id: string): Promise<BullJob> {
    await this.backend.ready();
    const job = (await this.backend.queue(name).getJob(id)) as BullJob | undefined;
    if (!job) {
      throw notFound(`Queue "${name}" has no job ${id}.`);
    }
    return job;
  }

  private toDto(job: BullJob, state: string): JobDto {
    return {
      id: String(job.id),
      name: job.name,
      state,
      payload: jobPayload(job.data),
      attempts: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      failedReason: job.failedReason || null,
      stacktrace: (job.stacktrace ?? []).map((stack) => stack.split('\n').slice(0, STACK_LINES).join('\n')),
      createdAt: new Date(job.timestamp).toISOString(),
      processedAt: iso(job.processedOn),
      finishedAt: iso(job.finishedOn),
      delay: job.delay,
      priority: job.priority,
    };
  }
}

interface OutboxRow {
  id: string;
  name: string;
  state: JobStateName;
  payload: unknown;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  publishedAt: Date | null;
  finishedAt: Date | null;
  delay: number | null;
  priority: number | null;
}

/**
 * The development-mode backend: jobs are outbox rows. A claimed row is active until the lock duration runs
 * out (then the runner takes it again, as bullmq does with a stalled job).
 */
const OUTBOX_STATE = `CASE
    WHEN "failedAt" IS NOT NULL THEN 'failed'
    WHEN "finishedAt" IS NOT NULL THEN 'completed'
    WHEN "publishedAt" >= now() - make_interval(secs => $1) THEN 'active'
    WHEN "runAt" > now() THEN 'delayed'
    ELSE 'waiting' END`;

/** The development-mode backend: the same answers, read from the outbox table. */
export class OutboxInspector implements JobsInspector {
  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: JobRegistry,
    private readonly config: NestorConfig,
  ) {}

  async counts(name: string): Promise<JobCountsDto> {
    const rows = await this.dataSource.query<{ state: JobStateName; count: number }[]>(
      `SELECT state, count(*)::int AS count FROM (SELECT ${OUTBOX_STATE} AS state FROM job_outbox WHERE name = $2) s
        GROUP BY state`,
      [this.lockSeconds(), name],
    );
    const counts = zeroCounts();
    for (const row of rows) {
      counts[row.state] = row.count;
    }
    return counts;
  }

  async list(name: string, state: JobStateName, offset: number, limit: number): Promise<JobListDto> {
    const rows = await this.dataSource.query<(OutboxRow & { total: number })[]>(
      `SELECT *, count(*) OVER ()::int AS total FROM (
         SELECT id, name, ${OUTBOX_STATE} AS state, payload, attempts, "lastError", "createdAt", "publishedAt",
                "finishedAt", delay, priority
           FROM job_outbox WHERE name = $2) s
        WHERE state = $3 ORDER BY "createdAt" DESC, id LIMIT $4 OFFSET $5`,
      [this.lockSeconds(), name, state, limit, offset],
    );
    let total = rows[0]?.total;
    if (total === undefined) {
      total = offset > 0 ? (await this.counts(name))[state] : 0; // a page past the end has no window row
    }
    return { items: rows.map((row) => this.toDto(row)), total };
  }

  async get(name: string, id: string): Promise<JobDto> {
    return this.toDto(await this.rowOf(name, id));
  }

  async retry(name: string, id: string): Promise<JobDto> {
    const row = await this.rowOf(name, id);
    if (row.state !== 'failed') {
      throw conflict(`Job ${id} is ${row.state}: only failed jobs can be retried.`);
    }
    await this.dataSource.query(
      `UPDATE job_outbox SET "finishedAt" = NULL, "failedAt" = NULL, "publishedAt" = NULL, "runAt" = NULL,
         attempts = 0 WHERE id = $1 AND "failedAt" IS NOT NULL`,
      [id],
    );
    return this.toDto(await this.rowOf(name, id));
  }

  async remove(name: string, id: string): Promise<void> {
    const row = await this.rowOf(name, id);
    if (row.state === 'active') {
      throw conflict(`Job ${id} could not be removed: it is running.`);
    }
    await this.dataSource.query('DELETE FROM job_outbox WHERE id = $1', [id]);
  }

  async schedules(): Promise<JobScheduleDto[]> {
    const rows = await this.dataSource.query<{ name: string; cron: string; nextRunAt: Date }[]>(
      'SELECT name, cron, "nextRunAt" FROM job_schedule',
    );
    const declared = this.registry.all().filter((job) => job.options.cron);
    const names = [...new Set([...declared.map((job) => job.name), ...rows.map((row) => row.name)])];
    return names.map((name) => {
      const job = declared.find((j) => j.name === name);
      const row = rows.find((r) => r.name === name);
      return {
        name,
        key: `cron:${name}`,
        cron: job?.options.cron ?? row!.cron,
        next: iso(row?.nextRunAt),
        declared: job !== undefined,
        registered: row !== undefined,
      };
    });
  }

  private async rowOf(name: string, id: string): Promise<OutboxRow> {
    const [row] = /^[0-9a-f-]{36}$/i.test(id)
      ? await this.dataSource.query<OutboxRow[]>(
          `SELECT id, name, ${OUTBOX_STATE} AS state, payload, attempts, "lastError", "createdAt", "publishedAt",
                  "finishedAt", delay, priority
             FROM job_outbox WHERE name = $2 AND id = $3`,
          [this.lockSeconds(), name, id],
        )
      : [];
    if (!row) {
      throw notFound(`Queue "${name}" has no job ${id}.`);
    }
    return row;
  }

  private lockSeconds(): number {
    return this.config.jobsLockDuration / 1000;
  }

  private toDto(row: OutboxRow): JobDto {
    const job = this.registry.all().find((j) => j.name === row.name);
    return {
      id: row.id,
      name: row.name,
      state: row.state,
      payload: row.payload,
      attempts: row.attempts,
      maxAttempts: job?.options.attempts ?? 1,
      failedReason: row.lastError,
      stacktrace: [],
      createdAt: row.createdAt.toISOString(),
      processedAt: iso(row.publishedAt),
      finishedAt: iso(row.finishedAt),
      delay: row.delay ?? 0,
      priority: row.priority ?? 0,
    };
  }
}

/**
 * The inspector of the configured backend.
 * Example: `createInspector(config, backend, settler, dataSource, registry)`.
 */
export function createInspector(
  config: NestorConfig,
  backend: JobBackend,
  settler: OutboxSettler,
  dataSource: DataSource,
  registry: JobRegistry,
): JobsInspector {
  return config.jobsBackend === 'outbox'
    ? new OutboxInspector(dataSource, registry, config)
    : new BullInspector(backend, settler, registry);
}
