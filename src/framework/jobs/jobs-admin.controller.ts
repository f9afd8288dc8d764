import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { StaffOnly } from 'src/framework/access/staff-only';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import {
  JOB_NAME_SCHEMA,
  JobDto,
  JobListDto,
  JobListQueryDto,
  JobQueueDto,
  JobScheduleDto,
} from 'src/framework/jobs/jobs-admin.dto';
import { ApiPathParam } from 'src/framework/openapi/route-docs';

/** The `{name}` of the job routes: a queue is a job name. */
const ApiJobName = () =>
  ApiPathParam('name', { description: 'The job name (one queue per job)', ...JOB_NAME_SCHEMA });
/** The `{id}` of a job. */
const ApiJobId = () =>
  ApiPathParam('id', {
    description: 'The job id (a uuid for enqueued jobs; scheduled runs have ids of their own)',
    pattern: '^\\S+$',
    example: '0b5f1f9e-4c2a-4e8b-9d3a-7f6e5d4c3b2a',
  });
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { createInspector, JobsInspector, notFound } from 'src/framework/jobs/jobs-inspector';
import { JobsMetrics } from 'src/framework/jobs/jobs.metrics';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';

/**
 * `/admin/api/jobs`: inspect the job queues (one per job name), retry or remove jobs, list schedules.
 * Staff and superusers only. It reads whichever backend runs the jobs (bullmq on Redis or PostgreSQL, or the
 * development-mode outbox).
 */
@ApiTags('admin')
@StaffOnly()
@ApiResponse({ status: 503, description: 'The job backend is unreachable' })
@Controller('admin/api/jobs')
export class JobsAdminController {
  private readonly inspector: JobsInspector;

  constructor(
    backend: JobBackend,
    settler: OutboxSettler,
    private readonly registry: JobRegistry,
    config: NestorConfig,
    dataSource: DataSource,
    metrics: JobsMetrics,
  ) {
    this.inspector = createInspector(config, backend, settler, dataSource, registry);
    metrics.readDepthWith(() =>
      Promise.all(
        registry.all().map(async ({ name }) => ({ name, counts: await this.inspector.counts(name) })),
      ),
    );
  }

  @Get('queues')
  @ApiOperation({
    operationId: 'admin.jobs.queues',
    summary: 'Every job queue with its counts by state',
    description: 'One queue per job declared with `@Job`, by name, with its cron schedule if it has one.',
  })
  @ApiOkResponse({ type: [JobQueueDto] })
  async queues(): Promise<JobQueueDto[]> {
    const schedules = await this.inspector.schedules();
    return Promise.all(
      this.names().map(async (name) => ({
        name,
        counts: await this.inspector.counts(name),
        schedule: schedules.find((s) => s.name === name && s.declared) ?? null,
      })),
    );
  }

  @Get('queues/:name/jobs')
  @ApiOperation({
    operationId: 'admin.jobs.list',
    summary: 'Jobs of a queue in one state (default failed), newest first',
    description: 'Paged with offset and limit; `total` counts the jobs in that state.',
  })
  @ApiJobName()
  @ApiOkResponse({ type: JobListDto })
  @ApiResponse({ status: 400, description: 'Bad query parameters' })
  @ApiResponse({ status: 404, description: 'Unknown queue' })
  list(@Param('name') name: string, @Query() query: JobListQueryDto): Promise<JobListDto> {
    return this.inspector.list(
      this.known(name),
      query.state ?? 'failed',
      query.offset ?? 0,
      query.limit ?? 20,
    );
  }

  @Get('queues/:name/jobs/:id')
  @ApiOperation({
    operationId: 'admin.jobs.get',
    summary: 'One job with its state (e.g. to follow it)',
    description:
      'With its payload, attempts and, for failed runs, the error and the first lines of each stack.',
  })
  @ApiJobName()
  @ApiJobId()
  @ApiOkResponse({ type: JobDto })
  @ApiResponse({ status: 404, description: 'Unknown queue or job' })
  get(@Param('name') name: string, @Param('id') id: string): Promise<JobDto> {
    return this.inspector.get(this.known(name), id);
  }

  @Post('queues/:name/jobs/:id/retry')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'admin.jobs.retry',
    summary: 'Move a failed job back to waiting',
    description: 'A worker picks it up again.',
  })
  @ApiJobName()
  @ApiJobId()
  @ApiOkResponse({ type: JobDto, description: 'The job, waiting again' })
  @ApiResponse({ status: 404, description: 'Unknown queue or job' })
  @ApiResponse({ status: 409, description: 'The job is not failed' })
  retry(@Param('name') name: string, @Param('id') id: string): Promise<JobDto> {
    return this.inspector.retry(this.known(name), id);
  }

  @Delete('queues/:name/jobs/:id')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'admin.jobs.remove',
    summary: 'Remove a job (not while it runs)',
    description: 'A waiting, delayed, failed or completed job is deleted; a running one answers 409.',
  })
  @ApiJobName()
  @ApiJobId()
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiResponse({ status: 404, description: 'Unknown queue or job' })
  @ApiResponse({ status: 409, description: 'The job is running' })
  remove(@Param('name') name: string, @Param('id') id: string): Promise<void> {
    return this.inspector.remove(this.known(name), id);
  }

  @Get('schedules')
  @ApiOperation({
    operationId: 'admin.jobs.schedules',
    summary: 'Cron schedules with their next run',
    description:
      'Declared ones, and left-over ones a worker will remove at its next boot (`declared: false`), by name.',
  })
  @ApiOkResponse({ type: [JobScheduleDto] })
  async schedules(): Promise<JobScheduleDto[]> {
    return (await this.inspector.schedules()).sort((a, b) => a.name.localeCompare(b.name));
  }

  private names(): string[] {
    return this.registry
      .all()
      .map((job) => job.name)
      .sort();
  }

  private known(name: string): string {
    if (!this.registry.all().some((job) => job.name === name)) {
      throw notFound(`There is no job queue named "${name}".`);
    }
    return name;
  }
}
