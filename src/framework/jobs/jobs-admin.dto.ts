import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';

/** The states a queue's jobs can be listed by (a paused queue keeps its jobs waiting). */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;
export type JobStateName = (typeof JOB_STATES)[number];

export class JobCountsDto {
  @ApiProperty() waiting!: number;
  @ApiProperty() active!: number;
  @ApiProperty() delayed!: number;
  @ApiProperty() completed!: number;
  @ApiProperty() failed!: number;
  @ApiProperty({ description: 'Waiting jobs held because the queue is paused (0 when running)' })
  paused!: number;
  @ApiProperty() prioritized!: number;
}

/** A schedule (bullmq job scheduler) of a cron job. */
export class JobScheduleDto {
  @ApiProperty({ example: 'reports.daily-sales', description: 'The job it enqueues' })
  name!: string;

  @ApiProperty({ example: 'cron:reports.daily-sales' })
  key!: string;

  @ApiProperty({ example: '0 2 * * *', description: 'Cron pattern' })
  cron!: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
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
  @ApiProperty({ example: 'orders.send-confirmation' })
  name!: string;

  @ApiProperty({ type: JobCountsDto })
  counts!: JobCountsDto;

  @ApiProperty({ type: JobScheduleDto, nullable: true })
  schedule!: JobScheduleDto | null;
}

/** A job as the admin sees it. */
export class JobDto {
  @ApiProperty({ description: 'The job id (also its outbox id)' })
  id!: string;

  @ApiProperty({ example: 'orders.send-confirmation' })
  name!: string;

  @ApiProperty({ enum: [...JOB_STATES, 'waiting-children', 'unknown'] })
  state!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { orderId: 42 } })
  payload!: unknown;

  @ApiProperty({ description: 'Runs that ended (failed or completed)' })
  attempts!: number;

  @ApiProperty({ description: 'Runs allowed in total' })
  maxAttempts!: number;

  @ApiProperty({ type: String, nullable: true })
  failedReason!: string | null;

  @ApiProperty({
    type: [String],
    description: 'The stack of each failed run (latest last), first lines only',
  })
  stacktrace!: string[];

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  processedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finishedAt!: string | null;

  @ApiProperty({ description: 'Delay in ms from creation' })
  delay!: number;

  @ApiProperty({ description: 'bullmq priority (0: none)' })
  priority!: number;
}

export class JobListDto {
  @ApiProperty({ type: [JobDto] })
  items!: JobDto[];

  @ApiProperty({ description: 'Jobs in this state' })
  total!: number;
}

/** The query of `GET /admin/api/jobs/queues/:name/jobs`. */
export class JobListQueryDto {
  @ApiPropertyOptional({ enum: JOB_STATES, default: 'failed' })
  @IsOptional()
  @IsIn(JOB_STATES)
  state?: JobStateName;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;
}
