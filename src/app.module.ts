import { join } from 'node:path';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_MODULES } from 'src/app/modules';
import { NestorConfig, NestorModule } from 'nestor';

/** The committed migrations: `.ts` under ts-node/Jest, compiled `.js` under `dist/`. */
export const MIGRATIONS = [join(__dirname, '..', 'migrations', '*.{js,ts}')];

/** The one composition every entry point (HTTP, worker, CLI) and every e2e test boots. */
@Module({})
export class AppModule {
  static forRoot(config: NestorConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [NestorModule.forRoot({ config, migrations: MIGRATIONS }), ...APP_MODULES],
    };
  }
}
