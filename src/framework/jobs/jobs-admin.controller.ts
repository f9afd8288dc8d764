import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Job as BullJob, Queue } from 'bullmq';
import { StaffOnly } from 'src/framework/auth/staff-only';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import {
  JOB_STATES,
  JobCountsDto,
  JobDto,
  JobListDto,
  JobListQueryDto,
  JobQueueDto,
  JobScheduleDto,
} from 'src/framework/jobs/jobs-admin.dto';
import { DEPTH_STATES, JobsMetrics } from 'src/framework/jobs/jobs.metrics';
import { JobsService } from 'src/framework/jobs/jobs.service';

/** Lines of each failed run's stack trace the API returns. */
const STACK_LINES = 8;

const iso = (ms: number | undefined): string | null => (ms ? new Date(ms).toISOString() : null);

function toDto(job: BullJob, state: string): JobDto {
  return {
    id: String(job.id),
    name: job.name,
    state,
    payload: job.data as unknown,
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

/**
 * `/admin/api/jobs`: inspect the job queues (one per job name), retry or remove jobs, list schedules.
 * Staff and superusers only. It reads the job backend: without `REDIS_URL` every route answers 503 (jobs then
 * run in-process from the outbox table, which this API does not show yet).
 */
@ApiTags('admin')
@StaffOnly()
@ApiResponse({ status: 503, description: 'No job backend (REDIS_URL is not set)' })
@Controller('admin/api/jobs')
export class JobsAdminController {
  constructor(
    private readonly jobs: JobsService,
    private readonly registry: JobRegistry,
    private readonly config: NestorConfig,
    metrics: JobsMetrics,
  ) {
    if (config.redisUrl) {
      metrics.readDepthWith(() =>
        Promise.all(
          registry.all().map(async ({ name }) => ({
            name,
            counts: await jobs.queue(name).getJobCounts(...DEPTH_STATES),
          })),
        ),
      );
    }
  }

  @Get('queues')
  @ApiOperation({ operationId: 'admin.jobs.queues', summary: 'Every job queue with its counts by state' })
  @ApiOkResponse({ type: [JobQueueDto] })
  async queues(): Promise<JobQueueDto[]> {
    this.requireBackend();
    const schedules = await this.scheduleList();
    return Promise.all(
      this.names().map(async (name) => {
        const queue = this.jobs.queue(name);
        const [counts, paused] = await Promise.all([queue.getJobCounts(...JOB_STATES), queue.isPaused()]);
        return {
          name,
          counts: { ...counts, paused: paused ? (counts.waiting ?? 0) : 0 } as JobCountsDto,
          schedule: schedules.find((s) => s.name === name && s.declared) ?? null,
        };
      }),
    );
  }

  @Get('queues/:name/jobs')
  @ApiOperation({
    operationId: 'admin.jobs.list',
    summary: 'Jobs of a queue in one state (default failed), newest first',
  })
  @ApiParam({ name: 'name', description: 'The job name' })
  @ApiOkResponse({ type: JobListDto })
  @ApiResponse({ status: 400, description: 'Bad query parameters' })
  @ApiResponse({ status: 404, description: 'Unknown queue' })
  async list(@Param('name') name: string, @Query() query: JobListQueryDto): Promise<JobListDto> {
    const queue = this.queueOf(name);
    const state = query.state ?? 'failed';
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 20;
    const [jobs, total] = await Promise.all([
      queue.getJobs([state], offset, offset + limit - 1, false),
      queue.getJobCountByTypes(state),
    ]);
    return { items: jobs.filter((job) => job !== undefined).map((job) => toDto(job, state)), total };
  }

  @Post('queues/:name/jobs/:id/retry')
  @HttpCode(200)
  @ApiOperation({ operationId: 'admin.jobs.retry', summary: 'Move a failed job back to waiting' })
  @ApiParam({ name: 'name', description: 'The job name' })
  @ApiOkResponse({ type: JobDto, description: 'The job, waiting again' })
  @ApiResponse({ status: 404, description: 'Unknown queue or job' })
  @ApiResponse({ status: 409, description: 'The job is not failed' })
  async retry(@Param('name') name: string, @Param('id') id: string): Promise<JobDto> {
    const job = await this.jobOf(name, id);
    const state = await job.getState();
    if (state !== 'failed') {
      throw conflict(`Job ${id} is ${state}: only failed jobs can be retried.`);
    }
    try {
      await job.retry('failed');
    } catch (error) {
      throw conflict(`Job ${id} could not be retried: ${(error as Error).message}`);
    }
    const retried = await this.jobOf(name, id);
    return toDto(retried, await retried.getState());
  }

  @Delete('queues/:name/jobs/:id')
  @HttpCode(204)
  @ApiOperation({ operationId: 'admin.jobs.remove', summary: 'Remove a job (not while it runs)' })
  @ApiParam({ name: 'name', description: 'The job name' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiResponse({ status: 404, description: 'Unknown queue or job' })
  @ApiResponse({ status: 409, description: 'The job is running' })
  async remove(@Param('name') name: string, @Param('id') id: string): Promise<void> {
    const job = await this.jobOf(name, id);
    try {
      await job.remove();
    } catch (error) {
      throw conflict(`Job ${id} could not be removed: ${(error as Error).message}`);
    }
  }

  @Get('schedules')
  @ApiOperation({ operationId: 'admin.jobs.schedules', summary: 'Cron schedules with their next run' })
  @ApiOkResponse({ type: [JobScheduleDto] })
  schedules(): Promise<JobScheduleDto[]> {
    this.requireBackend();
    return this.scheduleList();
  }

  /** Declared cron jobs (registered or not yet) and any scheduler left in the backend. */
  private async scheduleList(): Promise<JobScheduleDto[]> {
    const perQueue = await Promise.all(
      this.registry.all().map(async (job) => {
        const registered = await this.jobs.queue(job.name).getJobSchedulers();
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
    return perQueue.flat().sort((a, b) => a.name.localeCompare(b.name));
  }

  private names(): string[] {
    return this.registry
      .all()
      .map((job) => job.name)
      .sort();
  }

  private requireBackend(): void {
    if (!this.config.redisUrl) {
      throw new ProblemException({
        type: PROBLEM_TYPES.dependencyDown,
        title: 'No job backend',
        status: 503,
        detail:
          'REDIS_URL is not set: jobs run in-process from the outbox and there are no queues to inspect.',
      });
    }
  }

  private queueOf(name: string): Queue {
    this.requireBackend();
    if (!this.registry.all().some((job) => job.name === name)) {
      throw notFound(`There is no job queue named "${name}".`);
    }
    return this.jobs.queue(name);
  }

  private async jobOf(name: string, id: string): Promise<BullJob> {
    const job = await BullJob.fromId(this.queueOf(name), id);
    if (!job) {
      throw notFound(`Queue "${name}" has no job ${id}.`);
    }
    return job;
  }
}

function notFound(detail: string): ProblemException {
  return new ProblemException({ type: PROBLEM_TYPES.notFound, title: 'Not found', status: 404, detail });
}

function conflict(detail: string): ProblemException {
  return new ProblemException({ type: PROBLEM_TYPES.conflict, title: 'Conflict', status: 409, detail });
}
