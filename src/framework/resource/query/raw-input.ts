import type { ProblemFieldError } from 'src/framework/http/problem';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Non-empty text items: a list parameter repeated (`sort=a&sort=b`) rather than comma-separated. */
export function isTextList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v !== '');
}

/**
 * A list parameter's text (`sort`, `fields`, `include`): comma-separated as documented, or repeated, the
 * exploded form that clients such as openapi-fetch send for arrays by default; both mean the same list.
 */
export function listText(name: string, value: unknown, errors: ProblemFieldError[]): string | undefined {
  return isTextList(value) ? value.join(',') : scalar(name, value, errors);
}

/** A top-level parameter's single text value; repeated (`a=1&a=2`) or nested (`a[b]=1`) ones are errors. */
export function scalar(name: string, value: unknown, errors: ProblemFieldError[]): string | undefined {
  if (value === undefined || typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    return String(value);
  }
  errors.push({
    parameter: name,
    code: 'invalid',
    message: Array.isArray(value)
      ? `${name} is given more than once; give it once (lists are comma-separated)`
      : `${name} takes a single value, not ${name}[…]`,
  });
  return undefined;
}

/** A client-supplied value for a message: quoted, and cut short so a problem never echoes kilobytes. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

export function listOf(keys: Iterable<string>): string {
  return [...keys].join(', ');
}
