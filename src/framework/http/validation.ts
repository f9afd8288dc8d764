import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { PROBLEM_TYPES, ProblemException, ProblemFieldError } from 'src/framework/http/problem';

/** class-validator constraint names → the short codes clients see; others pass through unchanged. */
const CODES: Record<string, string> = {
  whitelistValidation: 'unknown',
  isDefined: 'required',
  isNotEmpty: 'required',
  nestedValidation: 'invalid',
};

/** Flattens class-validator's error tree into one entry per failed constraint, with JSON pointers. */
export function fieldErrors(errors: ValidationError[], base = ''): ProblemFieldError[] {
  return errors.flatMap((error) => {
    const pointer = `${base}/${error.property}`;
    const own = Object.entries(error.constraints ?? {}).map(([constraint, message]) => ({
      pointer,
      code: CODES[constraint] ?? constraint,
      message: constraint === 'whitelistValidation' ? `${error.property} is not an accepted field` : message,
    }));
    return [...own, ...fieldErrors(error.children ?? [], pointer)];
  });
}

/**
 * The global validation pipe: strips nothing silently (unknown properties are errors), transforms to the
 * DTO class, and reports body errors as 422 and query/path errors as 400, each with pointers.
 */
export class ProblemValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => {
        const list = fieldErrors(errors);
        return new ProblemException({
          type: PROBLEM_TYPES.validation,
          title: 'Validation failed',
          status: 422,
          detail: `${list.length} ${list.length === 1 ? 'field has' : 'fields have'} errors: ${list
            .map((e) => e.pointer)
            .filter((p, i, all) => all.indexOf(p) === i)
            .join(', ')}`,
          errors: list,
        });
      },
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      return (await super.transform(value, metadata)) as unknown;
    } catch (error) {
      if (error instanceof ProblemException && metadata.type !== 'body' && error.problem.status === 422) {
        // A bad query string or path segment is a malformed request, not a semantic one.
        throw new ProblemException({
          ...error.problem,
          type: PROBLEM_TYPES.badQuery,
          title: 'Bad request parameters',
          status: 400,
          detail: error.problem.detail?.replace(/\/(\w+)/g, '$1'),
          errors: error.problem.errors?.map(({ pointer, ...rest }) => ({
            parameter: pointer?.slice(1).replace(/\//g, '.'),
            ...rest,
          })),
        });
      }
      throw error;
    }
  }
}
