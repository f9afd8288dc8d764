import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { Migrations, dataSourceOptions } from 'src/framework/database/data-source-options';
import { DatabaseHangGuard } from 'src/framework/database/hang-guard';

/** TypeORM on PostgreSQL or embedded PGlite; entities come from `TypeOrmModule.forFeature` in feature modules. */
@Module({})
export class DatabaseModule {
  static forRoot(config: NestorConfig, migrations: Migrations): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRoot({
          ...dataSourceOptions(config, migrations),
          autoLoadEntities: true,
          // A server may still be starting in production; elsewhere a bad URL should fail at once.
          retryAttempts: config.nodeEnv === 'production' ? 10 : 0,
          retryDelay: 2000,
        }),
      ],
      providers: [DatabaseHangGuard],
    };
  }
}
