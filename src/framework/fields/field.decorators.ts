import { ValidateBy, ValidationOptions, buildMessage } from 'class-validator';
import { DECIMAL_RE, SLUG_RE, compareDecimals } from 'src/framework/fields/formats';

/** class-validator names of Nestor's own rules (the field rules map them to OpenAPI and the admin). */
export const DECIMAL_MIN = 'decimalMin';
export const DECIMAL_MAX = 'decimalMax';
export const IS_SLUG = 'isSlug';

function decimalBound(name: string, bound: string, fits: (order: number) => boolean, word: string) {
  if (!DECIMAL_RE.test(bound)) {
    throw new TypeError(`@${name === DECIMAL_MIN ? 'DecimalMin' : 'DecimalMax'}("${bound}"): not a decimal`);
  }
  return {
    name,
    constraints: [bound],
    validator: {
      validate: (value: unknown): boolean =>
        // A value that is not a decimal string is the type check's to report, not this rule's.
        typeof value !== 'string' || !DECIMAL_RE.test(value) || fits(compareDecimals(value, bound)),
      defaultMessage: buildMessage((each) => `${each}$property must not be ${word} ${bound}`),
    },
  };
}

/**
 * A decimal string (a `numeric` column) is at least `min`, compared exactly. Nestor documents it in OpenAPI
 * and the admin, and checks it on input (Java's `@DecimalMin`; class-validator's `@Min` is for numbers).
 * Example: `@Column({ type: 'numeric', precision: 10, scale: 2 }) @DecimalMin('0') price!: string;`
 */
export function DecimalMin(min: string, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    decimalBound(DECIMAL_MIN, min, (order) => order >= 0, 'less than'),
    options,
  );
}

/**
 * A decimal string is at most `max`, compared exactly. Example: `@DecimalMax('100') discount!: string;`
 */
export function DecimalMax(max: string, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    decimalBound(DECIMAL_MAX, max, (order) => order <= 0, 'greater than'),
    options,
  );
}

/**
 * Lower-case words joined by hyphens (`garden-tools`), the shared slug format.
 * Example: `@Column({ length: 120, unique: true }) @IsSlug() slug!: string;`
 */
export function IsSlug(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: IS_SLUG,
      validator: {
        validate: (value: unknown): boolean => typeof value === 'string' && SLUG_RE.test(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be lower-case words joined by hyphens, e.g. "garden-tools"`,
        ),
      },
    },
    options,
  );
}
