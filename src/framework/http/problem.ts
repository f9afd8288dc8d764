import { HttpException } from '@nestjs/common';

/** One field-level error inside a problem: a JSON pointer into the body, or the query parameter at fault. */
export interface ProblemFieldError {
  /** JSON pointer into the request body: `/price`, `/items/0/quantity`. */
  pointer?: string;
  /** The query parameter at fault, as the client wrote it: `limit`, `filter[price][gte]`. */
  parameter?: string;
  /** Stable machine code, e.g. `min`, `required`, `unique`, `unknown`. */
  code: string;
  message: string;
}

/** An RFC 9457 problem details body as Nestor sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: ProblemFieldError[];
  [extension: string]: unknown;
}

/**
 * `type` URIs for the problems Nestor raises itself; plain HTTP statuses use `about:blank`.
 * Example: `new ProblemException({ type: PROBLEM_TYPES.validation, status: 422, title: 'Invalid order' })`.
 */
export const PROBLEM_TYPES = {
  validation: 'urn:nestor:problem:validation-failed',
  malformedBody: 'urn:nestor:problem:malformed-body',
  badQuery: 'urn:nestor:problem:bad-query',
  unique: 'urn:nestor:problem:unique-violation',
  foreignKey: 'urn:nestor:problem:foreign-key-violation',
  bodyTooLarge: 'urn:nestor:problem:body-too-large',
  unsupportedMediaType: 'urn:nestor:problem:unsupported-media-type',
  dependencyDown: 'urn:nestor:problem:dependency-unavailable',
  preconditionFailed: 'urn:nestor:problem:precondition-failed',
  notFound: 'urn:nestor:problem:not-found',
  conflict: 'urn:nestor:problem:conflict',
  disallowedHost: 'urn:nestor:problem:disallowed-host',
  /** A request the HTTP parser or router cannot read: invalid percent-encoding in the path, not HTTP. */
  malformedRequest: 'urn:nestor:problem:malformed-request',
  /** A URL over 8 KiB, or a path segment over the router's 100 characters (414). */
  uriTooLong: 'urn:nestor:problem:uri-too-long',
  /** Request line and headers over Node's 16 KiB (431). */
  headersTooLarge: 'urn:nestor:problem:headers-too-large',
} as const;

/**
 * An error that is sent as the given problem. Throw it from any handler:
 * `throw new ProblemException({ status: 409, title: 'Out of stock', detail: 'Only 3 left' })`.
 */
export type ProblemInit = {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  errors?: ProblemFieldError[];
  [extension: string]: unknown;
};

/**
 * An error the client gets as `application/problem+json` (RFC 9457).
 * Example: `throw new ProblemException({ status: 409, title: 'Out of stock', detail: 'SKU-1 has 0 left' })`.
 */
export class ProblemException extends HttpException {
  constructor(
    readonly problem: ProblemInit,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.detail ?? problem.title, problem.status);
  }
}
