import { Injectable } from '@nestjs/common';
import { IsArray, IsInt, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { ADMIN_ACTION_JOB, AdminActionsService } from 'src/framework/admin/admin-actions.service';
import { Job } from 'src/framework/jobs/job.decorator';

/** A `job: true` admin action waiting to run. */
export class AdminActionPayload {
  @IsString()
  @MaxLength(100)
  resource!: string;

  @IsString()
  @MaxLength(100)
  action!: string;

  @IsArray()
  @IsString({ each: true })
  ids!: string[];

  /** The action's form (validated again against its class when the job runs), or null. */
  @IsOptional()
  @IsObject()
  input!: object | null;

  @IsInt()
  userId!: number;
}

/** Runs long admin actions in the background, as the user who started them (re-checking the permission). */
@Injectable()
export class AdminActionJobs {
  constructor(private readonly actions: AdminActionsService) {}

  @Job(ADMIN_ACTION_JOB, { payload: AdminActionPayload, attempts: 1, timeout: 10 * 60 * 1000 })
  async run(payload: AdminActionPayload): Promise<void> {
    await this.actions.runAsJob(payload);
  }
}
