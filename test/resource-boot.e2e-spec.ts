import { DynamicModule, Logger, Type } from '@nestjs/common';
import { AfterLoad, BeforeInsert, Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Product } from 'src/app/catalog/product.entity';
import { LoginAttempt } from 'src/framework/auth/login-attempt.entity';
import { LoadedConfig } from 'src/framework/config/load-config';
import { Resource } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { createTestApp } from 'src/framework/testing';
import { appWith } from 'test/support/app-with';

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

/** An entity with listener methods, which generated routes never call. */
@Entity('listening_sample')
class ListeningSample {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 60 })
  name!: string;

  @BeforeInsert()
  normalize(): void {
    this.name = this.name.trim();
  }

  @AfterLoad()
  loaded(): void {}
}

@Resource(ListeningSample, { path: 'listening-samples' })
class ListeningResource {}

/** Array columns: neither sortable nor filterable by value (no table needed: boot stops first). */
@Entity('tagged_sample')
class TaggedSample {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text', array: true })
  tags!: string[];
}

@Resource(TaggedSample, { path: 'tagged-samples', sort: ['tags'] })
class SortedByArrayResource {}

@Resource(TaggedSample, { path: 'tagged-samples', filter: { tags: ['contains'] } })
class FilteredByArrayResource {}

/** The shop's composition plus one feature module exposing `resources`, like `withFixtures` adds its routes. */
function withResources(...resources: Type[]): (config: LoadedConfig) => DynamicModule {
  return appWith(ResourceModule.forFeature(resources));
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

  it('NST-R018: an array column declared sortable, or filterable by value', async () => {
    expect(await bootFailure(SortedByArrayResource)).toBe(
      'NST-R018 SortedByArrayResource: option "sort" names "tags", an array column (text[]), which cannot be sorted (a page cursor carries one scalar per sort field): sort by a scalar field',
    );
    expect(await bootFailure(FilteredByArrayResource)).toBe(
      'NST-R018 FilteredByArrayResource: option "filter" names "tags", an array column (text[]) with the operator "contains": an array column can only be filtered by isnull, and only when nullable ("tags" is NOT NULL: leave it out of "filter")',
    );
  });

  it('NST-R017: entity listener methods, which generated routes do not call, are warned of at boot', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const t = await createTestApp(withResources(ListeningResource));
      await t.close();
      const warnings = warn.mock.calls
        .map(([message]) => String(message))
        .filter((m) => m.includes('NST-R017'));
      expect(warnings).toEqual([
        expect.stringContaining(
          "NST-R017 ListeningResource: ListeningSample's entity listeners (@BeforeInsert normalize(), @AfterLoad loaded())",
        ),
      ]);
      expect(warnings[0]).toContain('beforeCreate');
    } finally {
      warn.mockRestore();
    }
  });
});
