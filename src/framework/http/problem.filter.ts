import { STATUS_CODES } from 'node:http';
import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { QueryFailedError } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, Problem, ProblemException, ProblemFieldError } from 'src/framework/http/problem';
import { routeMiss } from 'src/framework/http/router-errors';
import { sendProblem } from 'src/framework/http/send-problem';
import { redactUrl } from 'src/framework/logging/redact-url';

/** What an exception becomes on the wire, and whether it is worth an error log with its stack. */
export interface ProblemResponse {
  problem: Problem;
  headers: Record<string, string>;
  unexpected: boolean;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  'EHOSTUNREACH',
]);

function plain(status: number, detail?: string): Problem {
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail ? { detail } : {}),
  };
}

function internal(): ProblemResponse {
  return {
    problem: plain(500, 'An unexpected error occurred. Quote the requestId when reporting it.'),
    headers: {},
    unexpected: true,
  };
}

function dependencyDown(what: string): ProblemResponse {
  return {
    problem: {
      type: PROBLEM_TYPES.dependencyDown,
      title: 'Service Unavailable',
      status: 503,
      detail: `The ${what} is unavailable right now. Retry shortly.`,
    },
    headers: { 'retry-after': '5' },
    unexpected: false,
  };
}

/** `Key (email)=(…)` / `Key (a, b)=(…)` in a PostgreSQL error detail → the column names. */
function keyColumns(detail: unknown): string[] {
  const match = typeof detail === 'string' ? /^Key \(([^)]+)\)=/.exec(detail) : null;
  return match ? match[1].split(',').map((c) => c.trim().replace(/^"|"$/g, '')) : [];
}

interface PgError {
  code?: string;
  detail?: string;
  column?: string;
  table?: string;
  constraint?: string;
  message?: string;
}

function fieldError(column: string, code: string, message: string): ProblemFieldError {
  return { pointer: `/${column}`, code, message };
}

function conflict(type: string, detail: string, errors: ProblemFieldError[]): ProblemResponse {
  return {
    problem: { type, title: 'Conflict', status: 409, detail, ...(errors.length ? { errors } : {}) },
    headers: {},
    unexpected: false,
  };
}

function badQuery(detail: string): ProblemResponse {
  return {
    problem: { type: PROBLEM_TYPES.badQuery, title: 'Bad Request', status: 400, detail },
    headers: {},
    unexpected: false,
  };
}

/** 23505 unique, 23503 foreign key, 23001 restrict → 409 naming the key's columns. */
function keyConflict(err: PgError, code: string): ProblemResponse {
  const table = err.table ? `"${err.table}"` : 'row';
  const columns = keyColumns(err.detail);
  if (code === '23505') {
    return conflict(
      PROBLEM_TYPES.unique,
      `A ${table} with the same ${columns.join(', ') || 'value'} already exists.`,
      columns.map((c) => fieldError(c, 'unique', `${c} must be unique`)),
    );
  }
  const stillReferenced = code === '23001' || /still referenced/.test(err.detail ?? '');
  return conflict(
    PROBLEM_TYPES.foreignKey,
    stillReferenced
      ? `This ${table} is still referenced by other rows and cannot be removed.`
      : `${columns.join(', ') || 'A reference'} points to a row that does not exist.`,
    stillReferenced ? [] : columns.map((c) => fieldError(c, 'exists', `${c} refers to a missing row`)),
  );
}

/** 23502 not null, 23514 check, 22001 too long → 422 naming the column when PostgreSQL gives it. */
function columnViolation(err: PgError, code: '23502' | '23514' | '22001'): ProblemResponse {
  const column = err.column;
  const what = { '23502': 'required', '23514': 'check', '22001': 'maxLength' }[code];
  const message =
    code === '23502'
      ? `${column ?? 'a field'} is required`
      : code === '23514'
        ? `violates the rule ${err.constraint ?? ''}`.trim()
        : 'value is too long';
  return {
    problem: {
      type: PROBLEM_TYPES.validation,
      title: 'Validation failed',
      status: 422,
      detail: message,
      ...(column ? { errors: [fieldError(column, what, message)] } : {}),
    },
    headers: {},
    unexpected: false,
  };
}

/** The database is unreachable: a connection class SQLSTATE, a socket error code, or pg's own words for it. */
function connectionLost(err: PgError, code: string): boolean {
  return (
    code.startsWith('08') ||
    CONNECTION_CODES.has(code) ||
    // pg's own words for a dropped socket, a connect/acquire timeout, a client that lost its connection
    // (e.g. the rollback after a dropped query) and a query_timeout.
    /Connection terminated|timeout exceeded when trying to connect|Connection refused|is not queryable|Query read timeout/i.test(
      err.message ?? '',
    )
  );
}

/** Maps a PostgreSQL error (SQLSTATE) to a client problem; undefined for server-side faults. */
function fromPostgres(err: PgError): ProblemResponse | undefined {
  const code = err.code ?? '';
  switch (code) {
    case '23505':
    case '23001': // restrict_violation: ON DELETE RESTRICT refuses at once, rather than at the end of the statement
    case '23503':
      return keyConflict(err, code);
    case '23502':
    case '23514':
    case '22001':
      return columnViolation(err, code);
    case '22021': // character_not_in_repertoire: a NUL (\u0000) in a text value or parameter
    case '22P05': // untranslatable_character: \u0000 inside jsonb
      return badQuery('A value contains a character that cannot be stored, such as NUL (\\u0000).');
    case '22P02':
    case '22003':
    case '22007':
    case '22008':
      return badQuery('A value has the wrong format.');
    case '40001':
    case '40P01':
      return conflict('about:blank', 'The row was changed by a concurrent request. Retry.', []);
    case '57014':
    case '57P01':
    case '57P02':
    case '57P03':
    case '53300':
      return dependencyDown('database');
    default:
      return connectionLost(err, code) ? dependencyDown('database') : undefined;
  }
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
}

/** What the filter knows about the server, for details worth telling the client. */
export interface ProblemContext {
  bodyLimit?: number;
}

function fromFastify(err: FastifyLikeError, context: ProblemContext): ProblemResponse | undefined {
  const status = err.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) {
    return undefined;
  }
  const respond = (type: string, detail: string): ProblemResponse => ({
    problem: { type, title: STATUS_CODES[status] ?? 'Error', status, detail },
    headers: {},
    unexpected: false,
  });
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return respond(
        PROBLEM_TYPES.bodyTooLarge,
        context.bodyLimit
          ? `The request body exceeds the limit of ${context.bodyLimit} bytes.`
          : 'The request body is larger than this server accepts.',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return respond(PROBLEM_TYPES.unsupportedMediaType, `${err.message}. Send application/json.`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return respond(PROBLEM_TYPES.malformedBody, `Malformed JSON body: ${err.message}`);
  }
  if (err instanceof SyntaxError) {
    return respond(PROBLEM_TYPES.malformedBody, `Malformed JSON body: ${err.message}`);
  }
  return respond('about:blank', err.message);
}

/** Turns any thrown value into an RFC 9457 problem. Pure: the filter adds `instance` and `requestId`. */
export function toProblem(exception: unknown, context: ProblemContext = {}): ProblemResponse {
  if (exception instanceof ProblemException) {
    const problem: Problem = { ...exception.problem, type: exception.problem.type ?? 'about:blank' };
    return { problem, headers: exception.headers, unexpected: false };
  }
  if (exception instanceof HttpException) {
    // Nest wraps Fastify's body-parser errors (bad JSON, too large, wrong type) and keeps them as `cause`.
    const cause = exception.cause as FastifyLikeError | undefined;
    const parsed =
      typeof cause?.code === 'string' && cause.code.startsWith('FST_')
        ? fromFastify(cause, context)
        : undefined;
    if (parsed) {
      return parsed;
    }
    const status = exception.getStatus();
    const body = exception.getResponse();
    const message =
      typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? exception.message);
    const detail = Array.isArray(message)
      ? message.join('; ')
      : typeof message === 'string'
        ? message
        : exception.message;
    return status >= 500
      ? { ...internal(), problem: plain(status, detail) }
      : {
          problem: plain(status, detail),
          headers: {},
          unexpected: false,
        };
  }
  if (exception instanceof QueryFailedError) {
    return fromPostgres(exception.driverError as PgError) ?? internal();
  }
  if (exception && typeof exception === 'object') {
    const err = exception as PgError & FastifyLikeError;
    // pg-pool reports connect timeouts and dropped sockets as plain Errors without a code.
    const pg = typeof err.code === 'string' && err.code.startsWith('FST_') ? undefined : fromPostgres(err);
    return pg ?? fromFastify(err, context) ?? internal();
  }
  return internal();
}

/**
 * The one exception filter: every error leaves as `application/problem+json` (sendProblem). A request no
 * route matched becomes 404, or 405 with `Allow` when its path has routes for other methods (routeMiss).
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Problem');

  constructor(private readonly config: NestorConfig) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') {
      throw exception;
    }
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const { problem, headers, unexpected } =
      request.is404 && exception instanceof NotFoundException
        ? { ...routeMiss(request), unexpected: false }
        : toProblem(exception, { bodyLimit: this.config.bodyLimit });
    if (unexpected) {
      // Stack and SQL stay in the log, keyed by requestId; the body carries neither.
      this.logger.error(
        { err: exception, requestId: request.id, url: redactUrl(request.url) },
        'Unhandled error',
      );
    } else if (problem.status === 503) {
      this.logger.warn({ err: exception, requestId: request.id }, problem.detail);
    }
    if (reply.sent) {
      return;
    }
    sendProblem(request, reply, problem, headers);
  }
}
