import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { PROBLEM_TYPES, ProblemException, ProblemFieldError } from 'src/framework/http/problem';
import { cacheValidationMetadata } from 'src/framework/http/validation-metadata-cache';

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
    // RFC 6901: '~' and '/' inside a property name are escaped so the pointer stays unambiguous.
    const pointer = `${base}/${error.property.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const own = Object.entries(error.constraints ?? {}).map(([constraint, message]) => ({
      pointer,
      code: CODES[constraint] ?? constraint,
      message: constraint === 'whitelistValidation' ? `${error.property} is not an accepted field` : message,
    }));
    return [...own, ...fieldErrors(error.children ?? [], pointer)];
  });
}

/** Fields a problem's detail names, and errors it lists: a huge bad body gets a bounded answer. */
const MAX_NAMED_FIELDS = 10;
export const MAX_LISTED_ERRORS = 100;

/** "2 fields have errors: /a, /b" — counts fields, not the rules each one broke; names the first ten. */
function summary(names: string[]): string {
  const unique = [...new Set(names)];
  const shown = unique.slice(0, MAX_NAMED_FIELDS).join(', ');
  const more = unique.length > MAX_NAMED_FIELDS ? ` and ${unique.length - MAX_NAMED_FIELDS} more` : '';
  return `${unique.length} ${unique.length === 1 ? 'field has' : 'fields have'} errors: ${shown}${more}`;
}

/** `/items/0/quantity` → `items[0][quantity]`, the bracket syntax the query string was written in. */
function toParameter(pointer: string): string {
  const [head = '', ...rest] = pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  return head + rest.map((part) => `[${part}]`).join('');
}

/** The 422 for invalid body fields, one entry per broken rule. Example: `throw validationProblem(errors)`. */
export function validationProblem(errors: ProblemFieldError[]): ProblemException {
  return new ProblemException({
    type: PROBLEM_TYPES.validation,
    title: 'Validation failed',
    status: 422,
    detail: summary(errors.map((e) => e.pointer ?? '')),
    errors: errors.slice(0, MAX_LISTED_ERRORS),
  });
}

/** Deeper than any DTO nests; class-transformer recurses per level and overflows the stack near 5,000. */
export const MAX_BODY_DEPTH = 32;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const malformed = (detail: string) =>
  new ProblemException({ type: PROBLEM_TYPES.malformedBody, title: 'Bad Request', status: 400, detail });

/**
 * Refuses, with 400, a body nested deeper than {@link MAX_BODY_DEPTH} (class-transformer would overflow the
 * stack) or holding a lone UTF-16 surrogate such as `"\ud800"` (not Unicode; validator's isEmail throws on
 * it). Iterative, so a 100,000-level body costs a loop, not the stack. Example: `checkBodyShape(req.body)`.
 */
export function checkBodyShape(value: unknown, limit = MAX_BODY_DEPTH): void {
  // Each entry holds its parent's pointer and its own key: the pointer itself is built only for an object
  // (its children's parent) or an error, not for every field of every body.
  const stack: [unknown, number, string, string | undefined][] = [[value, 0, '', undefined]];
  while (stack.length > 0) {
    const [current, depth, parent, key] = stack.pop()!;
    if (typeof current === 'string') {
      if (LONE_SURROGATE.test(current)) {
        const at = key === undefined ? 'The body' : pointerTo(parent, key);
        throw malformed(`${at} contains a lone UTF-16 surrogate, which is not valid Unicode.`);
      }
      continue;
    }
    if (current === null || typeof current !== 'object') {
      continue;
    }
    if (depth >= limit) {
      throw malformed(`The request body nests deeper than ${limit} levels.`);
    }
    const pointer = key === undefined ? parent : pointerTo(parent, key);
    for (const name in current) {
      if (!Object.hasOwn(current, name)) {
        continue;
      }
      if (LONE_SURROGATE.test(name)) {
        throw malformed('A property name contains a lone UTF-16 surrogate, which is not valid Unicode.');
      }
      stack.push([(current as Record<string, unknown>)[name], depth + 1, pointer, name]);
    }
  }
}

/** RFC 6901: the pointer of `key` below `parent`. */
function pointerTo(parent: string, key: string): string {
  return `${parent}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/**
 * The global validation pipe: strips nothing silently (unknown properties are errors), transforms to the
 * DTO class, and reports body errors as 422 and query/path errors as 400, each with pointers.
 */
export class ProblemValidationPipe extends ValidationPipe {
  constructor() {
    cacheValidationMetadata();
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => {
        return validationProblem(fieldErrors(errors));
      },
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      checkBodyShape(value);
    }
    try {
      return (await super.transform(value, metadata)) as unknown;
    } catch (error) {
      // GraphQL's arguments (@Args) are a body of their own: a 422 with pointers, as REST's bodies.
      const parameters = metadata.type === 'query' || metadata.type === 'param' || metadata.type === 'custom';
      if (error instanceof ProblemException && parameters && error.problem.status === 422) {
        // A bad query string or path segment is a malformed request, not a semantic one.
        const errors = (error.problem.errors ?? []).map(({ pointer, ...rest }) => ({
          parameter: toParameter(pointer ?? ''),
          ...rest,
        }));
        throw new ProblemException({
          ...error.problem,
          type: PROBLEM_TYPES.badQuery,
          title: 'Bad request parameters',
          status: 400,
          detail: summary(errors.map((e) => e.parameter)),
          errors,
        });
      }
      throw error;
    }
  }
}
