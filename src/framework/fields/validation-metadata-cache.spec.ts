import 'reflect-metadata';
import { IsInt, IsString, Min, validate } from 'class-validator';
import { cacheValidationMetadata } from 'src/framework/fields/validation-metadata-cache';

describe('cacheValidationMetadata', () => {
  beforeAll(() => {
    cacheValidationMetadata();
    cacheValidationMetadata(); // a second install is a no-op
  });

  it('validates as before, inherited rules included', async () => {
    class Base {
      @IsInt()
      id!: unknown;
    }
    class Child extends Base {
      @IsString()
      name!: unknown;
    }
    const bad = Object.assign(new Child(), { id: 'x', name: 1 });
    const good = Object.assign(new Child(), { id: 1, name: 'a' });

    const first = await validate(bad);
    const again = await validate(bad);

    expect(first.map((e) => e.property).sort()).toEqual(['id', 'name']);
    expect(again.map((e) => e.property).sort()).toEqual(['id', 'name']);
    expect(await validate(good)).toEqual([]);
  });

  it('applies a rule declared after the class was first validated', async () => {
    class Late {
      @IsInt()
      n!: unknown;
    }
    const value = Object.assign(new Late(), { n: -1 });
    expect(await validate(value)).toEqual([]);

    Min(0)(Late.prototype, 'n');

    const errors = await validate(value);
    expect(errors.map((e) => Object.keys(e.constraints ?? {}))).toEqual([['min']]);
  });

  it('keeps groups apart', async () => {
    class Grouped {
      @IsInt({ groups: ['strict'] })
      n!: unknown;
    }
    const value = Object.assign(new Grouped(), { n: 'x' });

    expect(await validate(value, { groups: ['strict'] })).toHaveLength(1);
    expect(await validate(value, { groups: ['other'], forbidUnknownValues: false })).toEqual([]);
  });
});
