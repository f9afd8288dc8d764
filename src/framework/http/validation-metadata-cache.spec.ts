import 'reflect-metadata';
import { IsInt, IsOptional, IsString, MaxLength, getMetadataStorage, validate } from 'class-validator';
import { cacheValidationMetadata } from 'src/framework/http/validation-metadata-cache';

class Named {
  @IsString()
  @MaxLength(5)
  name!: string;
}

class Priced extends Named {
  @IsInt()
  price!: number;

  @IsOptional()
  @IsString({ groups: ['admin'] })
  note?: string;
}

const strict = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false };

/** What a validation reports, as `property: constraint` pairs. */
async function broken(value: object, groups?: string[]): Promise<string[]> {
  const errors = await validate(value, { ...strict, groups });
  return errors.flatMap((e) => Object.keys(e.constraints ?? {}).map((c) => `${e.property}: ${c}`)).sort();
}

function priced(fields: Partial<Priced>): Priced {
  return Object.assign(new Priced(), fields);
}

describe('cacheValidationMetadata', () => {
  beforeAll(() => cacheValidationMetadata());

  it('answers each class, inherited rules and groups included, as class-validator does', () => {
    const storage = getMetadataStorage();
    // The cache is an own property of the storage; its class's method is class-validator's lookup.
    const plain = (Object.getPrototypeOf(storage) as typeof storage).getTargetValidationMetadatas.bind(
      storage,
    );
    for (const [target, groups, always] of [
      [Priced, undefined, false],
      [Priced, ['admin'], false],
      [Priced, [], true],
      [Named, undefined, false],
    ] as const) {
      const rules = (lookup: typeof plain) =>
        lookup(target, '', always, false, groups ? [...groups] : undefined).map(
          (rule) => `${rule.propertyName}:${rule.name ?? rule.type}`,
        );
      expect(rules(storage.getTargetValidationMetadatas.bind(storage))).toEqual(rules(plain));
    }
    // The second lookup is served from the cache, not by scanning every decorated class again.
    expect(storage.getTargetValidationMetadatas(Priced, '', false, false)).toBe(
      storage.getTargetValidationMetadatas(Priced, '', false, false),
    );
  });

  it('keeps validating: inherited rules, unknown fields, and groups', async () => {
    expect(await broken(priced({ name: 'chair', price: 10 }))).toEqual([]);
    expect(await broken(priced({ name: 'armchair', price: 1.5 }))).toEqual([
      'name: maxLength',
      'price: isInt',
    ]);
    expect(await broken(Object.assign(priced({ name: 'a', price: 1 }), { extra: 1 }))).toEqual([
      'extra: whitelistValidation',
    ]);
    // Each set of groups has its own answer: with groups, only their rules apply and the rest is unknown.
    const noted = priced({ name: 'a', price: 1, note: 5 as unknown as string });
    expect(await broken(noted)).toEqual(['note: isString']);
    expect(await broken(noted, ['admin'])).toEqual([
      'name: whitelistValidation',
      'note: isString',
      'price: whitelistValidation',
    ]);
    expect(await broken(noted)).toEqual(['note: isString']);
  });

  it('honours a rule registered after a class was first validated', async () => {
    class Late {
      @IsInt()
      count!: number;

      declare label?: unknown;
    }
    expect(await broken(Object.assign(new Late(), { count: 1 }))).toEqual([]);
    IsString()(Late.prototype, 'label');
    expect(await broken(Object.assign(new Late(), { count: 1, label: 5 }))).toEqual(['label: isString']);
  });

  it('installs once: a second call does not wrap the lookup again', () => {
    const storage = getMetadataStorage();
    const lookup = storage.getTargetValidationMetadatas;
    cacheValidationMetadata();
    expect(storage.getTargetValidationMetadatas).toBe(lookup);
  });
});
