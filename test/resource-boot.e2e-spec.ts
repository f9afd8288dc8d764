import { DynamicModule, Module, Type } from '@nestjs/common';
import { AppModule } from 'src/app.module';
import { Product } from 'src/app/catalog/product.entity';
import { LoginAttempt } from 'src/framework/auth/login-attempt.entity';
import { LoadedConfig } from 'src/framework/config/load-config';
import { Resource } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { createTestApp } from 'src/framework/testing';

// LoginAttempt is not exposed by the app, so these declarations trip only the check under test.

/** Takes the shop's `/api/products` (ProductResource). */
@Resource(LoginAttempt, { path: 'products' })
class ClashingPathResource {}

/** Exposes Product a second time, on a free path. */
@Resource(Product, { path: 'more-products' })
class SecondProductResource {}

/** A typo in a field name. */
@Resource(LoginAttempt, { filter: { failures: true, failurs: ['eq'] } })
class TypoResource {}

/** A service option naming a class that is not a ResourceService. */
class NotAResourceService {}
@Resource(LoginAttempt, { service: NotAResourceService })
class WrongServiceResource {}

/** The shop's composition plus one feature module exposing `resources`, like `withFixtures` adds its routes. */
function withResources(...resources: Type[]): (config: LoadedConfig) => DynamicModule {
  @Module({ imports: [ResourceModule.forFeature(resources)] })
  class BadResourcesModule {}
  return (config) => {
    const root = AppModule.forRoot(config);
    return { ...root, imports: [...(root.imports ?? []), BadResourcesModule] };
  };
}

/** Boots the app and returns the message it refused to boot with. */
async function bootFailure(...resources: Type[]): Promise<string> {
  try {
    const t = await createTestApp(withResources(...resources));
    await t.close();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('the app booted');
}

describe('@Resource declarations are checked when the app boots', () => {
  it('NST-R002: two resources on the same path', async () => {
    const message = await bootFailure(ClashingPathResource);
    expect(message).toMatch(/^NST-R002 /);
    expect(message).toContain('ClashingPathResource');
    expect(message).toContain('ProductResource');
    expect(message).toContain('"/api/products"');
  });

  it('NST-R008: the same entity exposed twice', async () => {
    const message = await bootFailure(SecondProductResource);
    expect(message).toMatch(/^NST-R008 /);
    expect(message).toContain('SecondProductResource');
    expect(message).toContain('ProductResource');
    expect(message).toContain('Product is already exposed');
  });

  it('NST-R001: an unknown field', async () => {
    const message = await bootFailure(TypoResource);
    expect(message).toMatch(/^NST-R001 TypoResource: /);
    expect(message).toContain('option "filter"');
    expect(message).toContain('"failurs"');
  });

  it('NST-R001: a service that does not extend ResourceService', async () => {
    const message = await bootFailure(WrongServiceResource);
    expect(message).toMatch(/^NST-R001 WrongServiceResource: /);
    expect(message).toContain('option "service" is NotAResourceService');
  });
});
