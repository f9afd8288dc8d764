import { DynamicModule, Module, Type } from '@nestjs/common';
import { AppModule } from 'src/app.module';
import { LoadedConfig } from 'src/framework/config/load-config';

/**
 * The shop's app with a spec's own modules imported beside its own (the spec's jobs, entities or
 * resources), for createTestApp. Example: `createTestApp(appWith(ReviewProductsModule), { as: 'superuser' })`.
 */
export function appWith(...modules: (Type | DynamicModule)[]): (config: LoadedConfig) => DynamicModule {
  return (config) => {
    const root = AppModule.forRoot(config);
    return { ...root, imports: [...(root.imports ?? []), ...modules] };
  };
}

/** appWith one module that provides `providers` (a spec's `@Job` classes, say). */
export function appWithProviders(...providers: Type[]): (config: LoadedConfig) => DynamicModule {
  @Module({ providers })
  class SpecProvidersModule {}
  return appWith(SpecProvidersModule);
}
