import { Length, ValidateBy } from 'class-validator';
import type * as CommonDictionary from '@zxcvbn-ts/language-common';
import { lazyModule } from 'src/framework/lazy-module';

/** ASVS 4.0.3 V2.1.1 and V2.1.2: at least 12 characters (runs of spaces count as one), at most 128. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

/**
 * The 49,233 most common passwords of the 10 million leaked in the "xato" corpus (the breach compilation
 * Mark Burnett published in 2015), as zxcvbn-ts ships them in `@zxcvbn-ts/language-common`: lower case,
 * looked up without whitespace. Loaded on the first check, never over the network.
 */
const dictionary = lazyModule<typeof CommonDictionary>('@zxcvbn-ts/language-common');
let common: ReadonlySet<string> | undefined;

/** Length in characters (code points, so an emoji is one) after runs of spaces are combined. */
export function passwordLength(password: string): number {
  return [...password.replace(/ {2,}/g, ' ')].length;
}

/**
 * Whether a password is on the list of common and breached passwords (case and whitespace ignored).
 * Example: `isCommonPassword('Password1234') === true`.
 */
export function isCommonPassword(password: string): boolean {
  common ??= new Set(dictionary().dictionary['passwords-common']);
  return common.has(password.toLowerCase().replace(/\s+/g, ''));
}

/**
 * The first rule a new password breaks, in words, or undefined when it is acceptable. Applies to every
 * way a password is set: registration, change, reset, the admin's "Set password", the CLI, ADMIN_PASSWORD.
 * Example: `passwordProblem('short')` → `'must be at least 12 characters long'`.
 */
export function passwordProblem(password: string): string | undefined {
  const length = passwordLength(password);
  if (length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    return `must be between ${PASSWORD_MIN_LENGTH} and ${PASSWORD_MAX_LENGTH} characters (runs of spaces count as one)`;
  }
  if (isCommonPassword(password)) {
    return 'is one of the most common (breached) passwords: choose another';
  }
  return undefined;
}

/**
 * The password rules as class-validator decorators on a DTO property: the length bounds (which OpenAPI and
 * the admin schema show) and the policy (`code: "passwordPolicy"` in a 422).
 * Example: `@NewPassword() password!: string;`
 */
export function NewPassword(): PropertyDecorator {
  const length = Length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, {
    message: ({ property }) =>
      `${property} must be between ${PASSWORD_MIN_LENGTH} and ${PASSWORD_MAX_LENGTH} characters`,
  });
  const policy = ValidateBy({
    name: 'passwordPolicy',
    validator: {
      // Out of the raw bounds is Length's error alone; this one adds the space runs and the list.
      validate: (value: unknown) =>
        typeof value !== 'string' ||
        value.length < PASSWORD_MIN_LENGTH ||
        value.length > PASSWORD_MAX_LENGTH ||
        passwordProblem(value) === undefined,
      defaultMessage: (args) => `${args?.property ?? 'password'} ${passwordProblem(String(args?.value))}`,
    },
  });
  return (target, key) => {
    length(target, key);
    policy(target, key);
  };
}
