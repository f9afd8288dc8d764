import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { Migrations, dataSourceOptions } from 'src/framework/database/data-source-options';
import { DatabaseHangGuard } from 'src/framework/database/hang-guard';
import { runAllMigrations } from 'src/framework/database/migration-runner';

/**
 * The migrations this process applied when the database opened (MIGRATE_ON_BOOT), the framework's then the
 * app's, for the boot banner.
 * Example: `app.get(AppliedMigrations).names` → `['Init1700000000000']`, or `undefined` when none were run.
 */
export class AppliedMigrations {
  /** Names in the order applied; undefined when this process did not run the migrations. */
  names: string[] | undefined;
}

/**
 * TypeORM on PostgreSQL or embedded PGlite; entities come from `TypeOrmModule.forFeature` in feature modules.
 * Global, so a module opening a pool of its own (the jobs' PostgreSQL backend) can hand it to the hang guard.
 */
@Module({})
export class DatabaseModule {
  static forRoot(config: NestorConfig, migrations: Migrations): DynamicModule {
    const applied = new AppliedMigrations();
    const options = dataSourceOptions(config, migrations);
    return {
      module: DatabaseModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            ...options,
            // Run below instead of inside initialize(), which does not say which migrations it applied.
            migrationsRun: false,
            autoLoadEntities: true,
            // A server may still be starting in production; elsewhere a bad URL should fail at once.
            retryAttempts: config.nodeEnv === 'production' ? 10 : 0,
            retryDelay: 2000,
          }),
          dataSourceFactory: async (factoryOptions) => {
            const dataSource = await new DataSource(factoryOptions as DataSourceOptions).initialize();
            if (options.migrationsRun) {
              try {
                const { framework, app } = await runAllMigrations(dataSource);
                applied.names = [...framework, ...app];
              } catch (error) {
                // As initialize() does when its own migrationsRun fails: leave no open database behind.
                await dataSource.destroy();
                throw error;
              }
            }
            return dataSource;
          },
        }),
      ],
      providers: [DatabaseHangGuard, { provide: AppliedMigrations, useValue: applied }],
      exports: [AppliedMigrations, DatabaseHangGuard],
    };
  }
}
