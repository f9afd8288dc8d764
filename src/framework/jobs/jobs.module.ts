import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { DatabaseHangGuard } from 'src/framework/database/hang-guard';
import { InlineJobBackend } from 'src/framework/jobs/backends/inline-job-backend';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { PostgresJobBackend } from 'src/framework/jobs/backends/postgres-job-backend';
import { RedisJobBackend } from 'src/framework/jobs/backends/redis-job-backend';
import { JobEffect, JobOutbox, JobSchedule } from 'src/framework/jobs/job-outbox.entity';
import { JobRunner } from 'src/framework/jobs/job-runner';
import { JobScheduler } from 'src/framework/jobs/job-scheduler';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import { JobsAdminController } from 'src/framework/jobs/jobs-admin.controller';
import { JobsMetrics } from 'src/framework/jobs/jobs.metrics';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { OutboxPublisher } from 'src/framework/jobs/outbox-publisher';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';
import { MetricsModule } from 'src/framework/metrics/metrics.module';

/** The backend JOBS_BACKEND (or what is configured) names: bullmq on Redis or PostgreSQL, or the outbox. */
function createJobBackend(
  config: NestorConfig,
  registry: JobRegistry,
  runner: JobRunner,
  settler: OutboxSettler,
  dataSource: DataSource,
  hangGuard: DatabaseHangGuard,
): JobBackend {
  switch (config.jobsBackend) {
    case 'redis':
      return new RedisJobBackend(config, registry, runner, settler);
    case 'postgres':
      return new PostgresJobBackend(config, registry, runner, settler, hangGuard);
    case 'outbox':
      return new InlineJobBackend(dataSource, registry, config, runner);
  }
}

/** Background jobs: `@Job` handlers, the outbox and the bullmq runtime. Inject `JobsService` to enqueue. */
@Global()
@Module({
  imports: [DiscoveryModule, MetricsModule, TypeOrmModule.forFeature([JobOutbox, JobEffect, JobSchedule])],
  controllers: [JobsAdminController],
  providers: [
    JobRegistry,
    JobsMetrics,
    JobRunner,
    OutboxSettler,
    {
      provide: JobBackend,
      useFactory: createJobBackend,
      inject: [NestorConfig, JobRegistry, JobRunner, OutboxSettler, DataSource, DatabaseHangGuard],
    },
    OutboxPublisher,
    JobScheduler,
    JobsService,
  ],
  exports: [JobsService, JobRegistry, JobsMetrics, JobBackend, OutboxPublisher, OutboxSettler],
})
export class JobsModule {}
