import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { JOB_NAME_MAX_LENGTH, JOB_NAME_RE } from 'src/framework/jobs/job.registry';
import { INT32_MAX } from 'src/framework/openapi/route-docs';

/** A count of jobs. */
const COUNT = { type: 'integer', format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const DATE_TIME = { type: String, format: 'date-time', maxLength: 30 } as const;
/** A job name as declared with `@Job` (checked at boot). */
export const JOB_NAME_SCHEMA = {
  maxLength: JOB_NAME_MAX_LENGTH,
  pattern: JOB_NAME_RE.source,
  // The mail job (MAIL_SEND_JOB) every app has; spelled out, as jobs/ sits below the mail/ that uses it.
  example: 'mail.send',
} as const;
/** The deepest page of a job list: 500 pages of 20. */
export const MAX_JOB_OFFSET = 10_000;

/** The states a queue's jobs can be listed by (a paused queue keeps its jobs waiting). */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;
export type JobStateName = (typeof JOB_STATES)[number];

export class JobCountsDto {
  @ApiProperty(COUNT) waiting!: number;
  @ApiProperty(COUNT) active!: number;
  @ApiProperty(COUNT) delayed!: number;
  @ApiProperty(COUNT) completed!: number;
  @ApiProperty(COUNT) failed!: number;
  @ApiProperty({ ...COUNT, description: 'Waiting jobs held because the queue is paused (0 when running)' })
  paused!: number;
  @ApiProperty(COUNT) prioritized!: number;
}

/** A schedule (bullmq job scheduler) of a cron job. */
export class JobScheduleDto {
  @ApiProperty({ ...JOB_NAME_SCHEMA, example: 'reports.daily-sales', description: 'The job it enqueues' })
  name!: string;

  @ApiProperty({
    maxLength: JOB_NAME_MAX_LENGTH + 5,
    pattern: `^cron:${JOB_NAME_RE.source.slice(1)}`,
    example: 'cron:reports.daily-sales',
  })
  key!: string;

  @ApiProperty({ example: '0 2 * * *', description: 'Cron pattern', pattern: '\\S' })
  cron!: string;

  @ApiProperty({
    ...DATE_TIME,
    nullable: true,
    description: 'Next run; null while no worker has registered the schedule yet',
  })
  next!: string | null;

  @ApiProperty({ description: 'Declared in code (false: left over, removed at the next worker boot)' })
  declared!: boolean;

  @ApiProperty({ description: 'Registered in the job backend (a worker booted with it)' })
  registered!: boolean;
}

/** One queue: a job name, its counts by state and its schedule. */
export class JobQueueDto {
  @ApiProperty(JOB_NAME_SCHEMA)
  name!: string;

  @ApiProperty({ type: JobCountsDto })
  counts!: JobCountsDto;

  @ApiProperty({ type: JobScheduleDto, nullable: true })
  schedule!: JobScheduleDto | null;
}

/** A job as the admin sees it. */
export class JobDto {
  @ApiProperty({
    description: 'The job id: its outbox id (a uuid) for enqueued jobs; scheduled runs have ids of their own',
    pattern: '^\\S+$',
    maxLength: 200,
  })
  id!: string;

  @ApiProperty(JOB_NAME_SCHEMA)
  name!: string;

  @ApiProperty({ enum: [...JOB_STATES, 'waiting-children', 'unknown'] })
  state!: string;

  @ApiProperty({
    type: 'object',
    properties: {},
    description: 'The job\'s payload, as enqueued (for example `{ "orderId": 42 }`)',
  })
  payload!: unknown;

  @ApiProperty({
    ...COUNT,
    format: 'int32',
    maximum: INT32_MAX,
    description: 'Runs that ended (failed or completed)',
  })
  attempts!: number;

  @ApiProperty({
    ...COUNT,
    format: 'int32',
    minimum: 1,
    maximum: INT32_MAX,
    description: 'Runs allowed in total',
  })
  maxAttempts!: number;

  @ApiProperty({ type: String, nullable: true, description: 'The message of the last error the job threw' })
  failedReason!: string | null;

  @ApiProperty({
    type: [String],
    description: 'The stack of each failed run (latest last), first lines only',
  })
  stacktrace!: string[];

  @ApiProperty(DATE_TIME)
  createdAt!: string;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  processedAt!: string | null;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  finishedAt!: string | null;

  @ApiProperty({ ...COUNT, description: 'Delay in ms from creation' })
  delay!: number;

  @ApiProperty({ ...COUNT, format: 'int32', maximum: INT32_MAX, description: 'bullmq priority (0: none)' })
  priority!: number;
}

export class JobListDto {
  @ApiProperty({ type: [JobDto], maxItems: 100, description: 'At most `limit`' })
  items!: JobDto[];

  @ApiProperty({ ...COUNT, description: 'Jobs in this state' })
  total!: number;
}

/** The query of `GET /admin/api/jobs/queues/:name/jobs`. */
export class JobListQueryDto {
  @ApiPropertyOptional({ enum: JOB_STATES, default: 'failed' })
  @IsOptional()
  @IsIn(JOB_STATES)
  state?: JobStateName;

  @ApiPropertyOptional({ type: 'integer', format: 'int32', minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ type: 'integer', format: 'int32', minimum: 0, maximum: MAX_JOB_OFFSET, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_JOB_OFFSET)
  offset?: number;
}
