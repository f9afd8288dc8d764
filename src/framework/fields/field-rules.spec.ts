import { IsEmail, IsIn, IsOptional, IsPositive, Length, Matches, Max, Min, MinLength } from 'class-validator';
import { DecimalMax, DecimalMin, IsSlug } from 'src/framework/fields/field.decorators';
import { FieldRuleError, FieldRules, fieldRules } from 'src/framework/fields/field-rules';
import { fieldSchema } from 'src/framework/fields/field-schema';
import { compareDecimals, decimalPattern, textLength } from 'src/framework/fields/formats';

class Sample {
  @MinLength(1) @Length(0, 80) title!: string;
  @Min(0) @Max(10) @IsOptional() stars!: number;
  @IsPositive() quantity!: number;
  @DecimalMin('0') @DecimalMax('500') price!: string;
  @Matches(/^[A-Z]+$/, { message: '$property must be capitals' }) @Matches(/^.{2,}$/) code!: string;
  @IsSlug() slug!: string;
  @IsEmail() email!: string;
  @IsIn(['a', 'b']) choice!: string;
  @Matches(/^x$/i) flagged!: string;
  @Min(0) decimalWithMin!: string;
}

const base = (type: FieldRules['type'], extra: Partial<FieldRules> = {}): FieldRules => ({
  type,
  nullable: false,
  custom: [],
  ...extra,
});

describe(fieldRules.name, () => {
  it('tightens the column limits with the rules: the stricter bound wins', () => {
    const sut = fieldRules(base('string', { maxLength: 200 }), Sample, 'title');
    expect(sut).toMatchObject({ minLength: 1, maxLength: 80 });
    expect(fieldRules(base('integer', { minimum: -5, maximum: 100 }), Sample, 'stars')).toMatchObject({
      minimum: 0,
      maximum: 10,
    });
    expect(fieldRules(base('integer'), Sample, 'quantity')).toMatchObject({ exclusiveMinimum: 0 });
  });

  it('states a decimal column as a pattern of its digits, without the sign when it may not be negative', () => {
    const sut = fieldRules(base('decimal', { precision: 10, scale: 2 }), Sample, 'price');
    expect(sut).toMatchObject({
      decimalMinimum: '0',
      decimalMaximum: '500',
      pattern: '^\\d{1,8}(\\.\\d{1,2})?$',
    });
    expect(sut.patternMessage).toBe(
      'price must be a decimal ≥ 0 with at most 8 digits before the point and at most 2 after the point, e.g. "12.50"',
    );
  });

  it('joins several patterns into one that needs all of them, with their messages', () => {
    const sut = fieldRules(base('string'), Sample, 'code');
    const pattern = new RegExp(sut.pattern!, 'u');
    expect(['AB', 'ABC'].map((v) => pattern.test(v))).toEqual([true, true]);
    expect(['A', 'ab', 'A1'].map((v) => pattern.test(v))).toEqual([false, false, false]);
    // Decorators run bottom-up, so the rules come in that order.
    expect(sut.patternMessage).toBe('code must match /^.{2,}$/; code must be capitals');
  });

  it('maps the shared formats: slug, email, enum', () => {
    expect(fieldRules(base('string'), Sample, 'slug').pattern).toBe('^[a-z0-9]+(-[a-z0-9]+)*$');
    expect(fieldRules(base('string'), Sample, 'email')).toMatchObject({
      format: 'email',
      pattern: expect.any(String),
    });
    expect(fieldRules(base('string'), Sample, 'choice').enum).toEqual(['a', 'b']);
  });

  it('refuses what a document cannot state honestly: regex flags, @Min on a decimal string', () => {
    expect(() => fieldRules(base('string'), Sample, 'flagged')).toThrow(FieldRuleError);
    expect(() => fieldRules(base('decimal'), Sample, 'decimalWithMin')).toThrow(/@DecimalMin\('0'\)/);
  });
});

describe(fieldSchema.name, () => {
  it('writes bounds, a usable example, and null for nullable fields', () => {
    const sut = fieldSchema(base('string', { maxLength: 20, nullable: true, pattern: '^[a-z]+$' }));
    expect(sut).toEqual({ type: ['string', 'null'], maxLength: 20, pattern: '^[a-z]+$', example: 'text' });
  });

  it('lets request bodies send a decimal as a number within the same digits', () => {
    const rules = fieldRules(base('decimal', { precision: 10, scale: 2 }), Sample, 'price');
    expect(fieldSchema(rules, { input: true }).anyOf).toEqual([
      expect.objectContaining({ type: 'string', maxLength: 11 }),
      { type: 'number', minimum: 0, maximum: 500, multipleOf: 0.01 },
    ]);
  });
});

describe('formats', () => {
  it('counts characters as PostgreSQL does, compares decimals exactly, and bounds digits', () => {
    expect(textLength('👍a')).toBe(2);
    expect(compareDecimals('0.10', '0.1')).toBe(0);
    expect(compareDecimals('-2', '1.5')).toBe(-1);
    expect(new RegExp(decimalPattern(5, 0)).test('-12345')).toBe(true);
    expect(new RegExp(decimalPattern(5, 0)).test('123456')).toBe(false);
  });
});
