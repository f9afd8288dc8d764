import { Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, getOperationAST, parse, type ExecutionResult } from 'graphql';
import { toProblem } from 'src/framework/http/problem.filter';

/** `extensions.code` by HTTP status: the names GraphQL clients already know (Apollo's), plus Nestor's. */
const CODES: Record<number, string> = {
  400: 'BAD_USER_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'VALIDATION_FAILED',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Mercurius's own request errors (a document too deep, a bad body) by its error code. */
const MERCURIUS_CODES: Record<string, string> = {
  MER_ERR_GQL_QUERY_DEPTH: 'QUERY_TOO_DEEP',
  MER_ERR_METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  MER_ERR_GQL_PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  MER_ERR_GQL_PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
};

const logger = new Logger('GraphQL');

/** What each field of a GraphQL-over-HTTP request must hold, for a request whose field has the wrong type. */
const REQUEST_FIELDS: Record<string, string> = {
  query: '`query` must be a string holding a GraphQL document',
  variables: "`variables` must be a JSON object of the operation's variables, or null",
  extensions: '`extensions` must be a JSON object',
  operationName: '`operationName` must be a string or null',
};

/** Fastify's failed schema check of a request, which Mercurius wraps as MER_ERR_GQL_VALIDATION. */
interface RequestValidation {
  validation?: { instancePath?: string }[];
}

/** A query-string value read as JSON (as Mercurius reads `variables` and `extensions`), or `undefined`. */
function readJson(value: unknown): unknown {
  try {
    return typeof value === 'string' ? (JSON.parse(value) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The message for a GraphQL request that is not one (Mercurius says only "Graphql validation error"): the
 * body is not a JSON object, a field has the wrong type, or a GET's `variables`/`extensions` is not JSON.
 */
function malformedRequest(original: Error & { errors?: unknown }, req?: FastifyRequest): string {
  const [failed] = Array.isArray(original.errors) ? (original.errors as RequestValidation[]) : [];
  if (!failed) {
    // A GET whose `variables` or `extensions` failed JSON.parse (Mercurius keeps only the SyntaxError).
    const query = (req?.query ?? {}) as Record<string, unknown>;
    const field =
      ['variables', 'extensions'].find(
        (name) => query[name] !== undefined && readJson(query[name]) === undefined,
      ) ?? 'variables';
    return `\`${field}\` in the query string is not valid JSON: ${original.message}`;
  }
  const field = (failed.validation?.[0]?.instancePath ?? '').split('/')[1] ?? '';
  return (
    REQUEST_FIELDS[field] ??
    'The request body must be a JSON object such as {"query": "{ … }", "variables": {…}}'
  );
}

/** Has the request, POST or GET, sent a persisted query's hash (Apollo's `extensions.persistedQuery`)? */
function sentPersistedHash(req?: FastifyRequest): boolean {
  const body = req?.body as { extensions?: unknown } | null | undefined;
  const extensions = (body?.extensions ??
    readJson((req?.query as { extensions?: unknown } | undefined)?.extensions)) as
    { persistedQuery?: unknown } | null | undefined;
  return extensions?.persistedQuery !== undefined;
}

/**
 * What a client is told of a request Mercurius refused before it ran a document, where Mercurius's own words
 * would mislead: a malformed request ("Graphql validation error"), and one without a document, which
 * Mercurius answers "Unknown query" (PERSISTED_QUERY_NOT_FOUND, which tells an Apollo client to resend a
 * document it never sent; a hash it does not know is "PersistedQueryNotFound"). A hash sent while persisted
 * queries are off is PERSISTED_QUERY_NOT_SUPPORTED: Apollo's clients stop sending hashes on it. A GET with
 * no operation to run is graphql-js's validation error (missingOperation).
 */
function refusedRequest(
  original: Error & { code?: string; errors?: unknown },
  req?: FastifyRequest,
  document?: string,
): { code: string; message: string } | undefined {
  const missing = original instanceof TypeError ? missingOperation(req, document) : undefined;
  if (missing) {
    return { code: 'GRAPHQL_VALIDATION_FAILED', message: missing };
  }
  if (original.code === 'MER_ERR_GQL_VALIDATION') {
    return { code: 'BAD_REQUEST', message: malformedRequest(original, req) };
  }
  if (original.code !== 'MER_ERR_GQL_PERSISTED_QUERY_NOT_FOUND' || original.message !== 'Unknown query') {
    return undefined;
  }
  return sentPersistedHash(req)
    ? {
        code: 'PERSISTED_QUERY_NOT_SUPPORTED',
        message:
          'Persisted queries are off on this server (GRAPHQL_PERSISTED_QUERIES=off): send the document as `query`',
      }
    : {
        code: 'BAD_REQUEST',
        message:
          'The request has no GraphQL document: send it as `query`, in the JSON body or the query string',
      };
}

/**
 * A GET whose document has no operation to run: `operationName` names none of them, or several are sent
 * without one. Mercurius checks a GET's operation is a query before graphql-js would say so, and fails on
 * the missing operation (a TypeError, a 500); this is graphql-js's message, as a POST gets it. `document` is
 * the one Mercurius was running (its request context's `__currentQuery`, set before that check): the
 * query string's, or a persisted query's, which the request names only by its hash.
 */
function missingOperation(req?: FastifyRequest, document?: string): string | undefined {
  if (req?.method !== 'GET' || document === undefined) {
    return undefined;
  }
  const { operationName } = req.query as Record<string, unknown>;
  const name = typeof operationName === 'string' && operationName !== '' ? operationName : undefined;
  try {
    if (getOperationAST(parse(document), name)) {
      return undefined;
    }
  } catch {
    return undefined; // not a document: the error is something else
  }
  return name
    ? `Unknown operation named "${name}".`
    : 'Must provide operation name if query contains multiple operations.';
}

interface ErrorContext {
  reply?: FastifyReply;
  req?: FastifyRequest;
  /** The document Mercurius was running (its request context's), once it had one. */
  __currentQuery?: string;
}

interface Shaped {
  error: Record<string, unknown>;
  status: number;
}

/**
 * One GraphQL error as a client sees it: `message`, `locations`, `path` and `extensions` with a stable
 * `code`, the HTTP `status` REST would answer, the problem `type`, the `requestId` and, for validation, REST's
 * `errors` ([{ pointer, code, message }]). Anything unexpected is INTERNAL_SERVER_ERROR without its message,
 * stack or SQL, which go to the log under the same requestId.
 */
function shape(error: GraphQLError, context: ErrorContext): Shaped {
  const original: (Error & { code?: string; statusCode?: number }) | undefined = error.originalError;
  const requestId = context.req?.id;
  const base = { message: error.message, locations: error.locations, path: error.path };
  if (!original || original instanceof GraphQLError) {
    // The document itself: syntax, unknown fields, wrong argument types, limits (validation rules).
    const code =
      (error.extensions?.code as string | undefined) ??
      (error.path ? 'BAD_USER_INPUT' : 'GRAPHQL_VALIDATION_FAILED');
    return {
      error: { ...base, extensions: { ...error.extensions, code, status: 400, requestId } },
      status: 400,
    };
  }
  const refused = refusedRequest(original, context.req, context.__currentQuery);
  if (refused) {
    return {
      error: {
        ...base,
        message: refused.message,
        extensions: { code: refused.code, status: 400, requestId },
      },
      status: 400,
    };
  }
  if (original.code && MERCURIUS_CODES[original.code]) {
    const status = original.statusCode ?? 400;
    return {
      error: { ...base, extensions: { code: MERCURIUS_CODES[original.code], status, requestId } },
      status,
    };
  }
  const { problem, headers, unexpected } = toProblem(original);
  if (unexpected) {
    logger.error({ err: original, requestId, path: error.path }, 'Unhandled error in a GraphQL operation');
  } else if (context.reply && Object.keys(headers).length > 0 && !context.reply.sent) {
    void context.reply.headers(headers); // Retry-After, WWW-Authenticate: as REST sends them
  }
  const { type, title, status, detail, errors } = problem;
  const extensions = {
    code:
      unexpected || status >= 500
        ? (CODES[status] ?? 'INTERNAL_SERVER_ERROR')
        : (CODES[status] ?? 'BAD_REQUEST'),
    status,
    type,
    requestId,
    ...(errors ? { errors } : {}),
  };
  if (unexpected) {
    extensions.code = 'INTERNAL_SERVER_ERROR';
  }
  return { error: { ...base, message: detail ?? title, extensions }, status };
}

/**
 * Mercurius's `errorFormatter`: every error shaped by `shape`. The HTTP status is 200 when the operation
 * ran (data present, as GraphQL over HTTP asks), else the status of a lone error (401 bad token, 429 budget
 * spent, 400 bad document). Example: `errorFormatter: formatGraphqlErrors`.
 */
export function formatGraphqlErrors(
  execution: ExecutionResult & { statusCode?: number },
  context: ErrorContext,
): { statusCode: number; response: ExecutionResult } {
  const flat: GraphQLError[] = [];
  for (const error of execution.errors ?? []) {
    // Mercurius wraps a document's validation errors in one error that lists them.
    const inner = (error.originalError as { errors?: unknown } | undefined)?.errors;
    if (Array.isArray(inner) && inner.every((e) => e instanceof GraphQLError)) {
      flat.push(...inner);
    } else {
      flat.push(error);
    }
  }
  const shaped = flat.map((error) => shape(error, context));
  const statuses = new Set(shaped.map((s) => s.status));
  const statusCode = execution.data ? 200 : statuses.size === 1 ? shaped[0].status : 400;
  return {
    statusCode,
    response: {
      data: execution.data ?? null,
      errors: shaped.map((s) => s.error) as unknown as GraphQLError[],
    },
  };
}

/**
 * An error as a GraphQLError that already carries the `extensions` `formatGraphqlErrors` would give: for
 * answers Mercurius sends without the formatter (a subscription refused when it starts, over WebSocket).
 * Example: `throw graphqlErrorOf(unauthorized())`.
 */
export function graphqlErrorOf(error: unknown): GraphQLError {
  const original = error instanceof Error ? error : new Error(String(error));
  const { error: shaped } = shape(new GraphQLError(original.message, { originalError: original }), {});
  return new GraphQLError(shaped.message as string, {
    extensions: shaped.extensions as Record<string, unknown>,
  });
}
