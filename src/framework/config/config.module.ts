import { DynamicModule, Global, Module } from '@nestjs/common';
import { NestorConfig } from 'src/framework/config/nestor-config';

/** Makes the loaded {@link NestorConfig} injectable everywhere. */
@Global()
@Module({})
export class NestorConfigModule {
  static forRoot(config: NestorConfig): DynamicModule {
    return {
      module: NestorConfigModule,
      providers: [{ provide: NestorConfig, useValue: config }],
      exports: [NestorConfig],
    };
  }
}
