import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AdminModule } from 'src/framework/admin/admin.module';
import { AuditModule } from 'src/framework/audit/audit.module';
import { AuthModule } from 'src/framework/auth/auth.module';
import { JobsModule } from 'src/framework/jobs/jobs.module';
import { NestorConfigModule } from 'src/framework/config/config.module';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { DatabaseModule } from 'src/framework/database/database.module';
import { Migrations } from 'src/framework/database/data-source-options';
import { GraphqlModule } from 'src/framework/graphql/graphql.module';
import { HealthModule } from 'src/framework/health/health.module';
import { ProblemFilter } from 'src/framework/http/problem.filter';
import { ProblemValidationPipe } from 'src/framework/http/validation';
import { IdempotencyModule } from 'src/framework/idempotency/idempotency.module';
import { LoggingModule } from 'src/framework/logging/logging.module';
import { MailModule } from 'src/framework/mail/mail.module';
import { MetricsEndpointModule, MetricsModule } from 'src/framework/metrics/metrics.module';
import { ResourceCoreModule } from 'src/framework/resource/resource.module';

export interface NestorModuleOptions {
  config: NestorConfig;
  /** The app's migrations: globs such as `join(__dirname, '../migrations/*.{js,ts}')`, or classes. */
  migrations: Migrations;
}

/**
 * The framework's batteries in one import: config, logging, database, errors, validation, health, metrics.
 * Example: `imports: [NestorModule.forRoot({ config, migrations }), CatalogModule]`.
 */
@Module({})
export class NestorModule {
  static forRoot({ config, migrations }: NestorModuleOptions): DynamicModule {
    return {
      module: NestorModule,
      imports: [
        NestorConfigModule.forRoot(config),
        LoggingModule.forRoot(config),
        DatabaseModule.forRoot(config, migrations),
        HealthModule,
        MetricsModule,
        MetricsEndpointModule.forRoot(config),
        ResourceCoreModule,
        AuditModule,
        IdempotencyModule,
        MailModule,
        AuthModule,
        JobsModule,
        AdminModule,
        ...(config.graphql.enabled ? [GraphqlModule.forRoot()] : []),
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_PIPE, useClass: ProblemValidationPipe },
      ],
      exports: [MetricsModule],
    };
  }
}
