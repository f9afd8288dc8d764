import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { JobEffect, JobOutbox, JobSchedule } from 'src/framework/jobs/job-outbox.entity';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import { JobsAdminController } from 'src/framework/jobs/jobs-admin.controller';
import { JobsMetrics } from 'src/framework/jobs/jobs.metrics';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { MetricsModule } from 'src/framework/metrics/metrics.module';

/** Background jobs: `@Job` handlers, the outbox and the bullmq runtime. Inject `JobsService` to enqueue. */
@Global()
@Module({
  imports: [DiscoveryModule, MetricsModule, TypeOrmModule.forFeature([JobOutbox, JobEffect, JobSchedule])],
  controllers: [JobsAdminController],
  providers: [JobRegistry, JobsService, JobsMetrics],
  exports: [JobsService, JobRegistry, JobsMetrics],
})
export class JobsModule {}
