import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { DECIMAL_RE } from 'src/framework/fields/formats';
import type { FuzzRequest } from 'test/reliability/fuzz/arbitraries';
import { JsonSchema, OpenApiDocument, Operation, ResponseObject } from 'test/reliability/fuzz/openapi-model';

/** One broken promise of the API, as the report lists it. */
export interface Violation {
  check:
    | 'server-error'
    | 'status-undocumented'
    | 'content-type'
    | 'schema'
    | 'invalid-accepted'
    | 'invalid-status'
    | 'wrote-on-reject';
  operation: string;
  principal: string;
  strategy: string;
  status: number;
  detail: string;
  request: string;
}

/** ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect) over the document's components. */
export class SchemaValidator {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<JsonSchema, ValidateFunction>();

  private readonly shared: Record<string, ResponseObject>;

  constructor(document: OpenApiDocument) {
    this.shared = document.components.responses ?? {};
    this.ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
    addFormats(this.ajv);
    // Nestor's own format for exact decimals sent as text (OpenAPI leaves `format` open to extensions).
    this.ajv.addFormat('decimal', DECIMAL_RE);
    this.ajv.addKeyword({ keyword: 'example' });
    this.ajv.addSchema({ $id: 'doc', components: document.components }, 'doc');
  }

  /** A response object, with a shared one (`#/components/responses/…`) resolved. */
  response(response: ResponseObject | undefined): ResponseObject | undefined {
    return response?.$ref ? this.shared[response.$ref.replace('#/components/responses/', '')] : response;
  }

  validate(schema: JsonSchema, value: unknown): string | undefined {
    let fn = this.cache.get(schema);
    if (!fn) {
      const rewritten = JSON.parse(
        JSON.stringify(schema).replace(/"#\/components\//g, '"doc#/components/'),
      ) as object;
      fn = this.ajv.compile(rewritten);
      this.cache.set(schema, fn);
    }
    return fn(value) ? undefined : this.ajv.errorsText(fn.errors, { separator: '; ' }).slice(0, 300);
  }
}

const REFUSALS = new Set([400, 401, 403, 404, 405, 413, 415, 422, 429]);

/** Schemathesis' response checks: no 5xx, documented status, content type and schema; invalid input refused. */
export function checkResponse(
  validator: SchemaValidator,
  operation: Operation,
  request: FuzzRequest,
  response: LightMyRequestResponse,
): Omit<Violation, 'operation' | 'principal' | 'strategy' | 'request'>[] {
  const found: Omit<Violation, 'operation' | 'principal' | 'strategy' | 'request'>[] = [];
  const status = response.statusCode;
  const add = (check: Violation['check'], detail: string) => found.push({ check, status, detail });
  const contentType = String(response.headers['content-type'] ?? '');
  const responses = operation.operation.responses;
  // The operation's own statuses only: a catch-all `default` would let any status through.
  const documented = validator.response(responses[String(status)]);
  if (status >= 500) {
    add('server-error', response.body.slice(0, 300));
  }
  if (!documented) {
    add('status-undocumented', `${status} is not among ${Object.keys(responses).join(', ')}`);
  }
  if (request.invalid && status < 400) {
    add('invalid-accepted', `invalid input answered ${status}`);
  } else if (request.invalid && !REFUSALS.has(status) && status < 500) {
    add(
      'invalid-status',
      `invalid input answered ${status} (expected 400/422, or an auth/size/type refusal)`,
    );
  }
  if (status >= 400) {
    if (!contentType.startsWith('application/problem+json')) {
      add('content-type', `error with content-type "${contentType}"`);
      return found;
    }
    let body: { status?: unknown; requestId?: unknown };
    try {
      body = response.json();
    } catch {
      add('schema', 'problem body is not JSON');
      return found;
    }
    const error = validator.validate({ $ref: '#/components/schemas/Problem' }, body);
    if (error) {
      add('schema', `Problem: ${error}`);
    }
    if (body.status !== status) {
      add('schema', `problem.status ${String(body.status)} ≠ HTTP ${status}`);
    }
    if (body.requestId !== response.headers['x-request-id']) {
      add('schema', 'problem.requestId ≠ x-request-id');
    }
    return found;
  }
  if (!documented?.content || status === 204 || status === 304) {
    if (status === 204 && response.body.length > 0) {
      add('schema', '204 with a body');
    }
    return found;
  }
  const mediaType = Object.keys(documented.content).find((type) =>
    contentType.startsWith(type.split(';')[0]),
  );
  if (!mediaType) {
    add('content-type', `"${contentType}" is not among ${Object.keys(documented.content).join(', ')}`);
    return found;
  }
  const schema = documented.content[mediaType].schema;
  if (schema && mediaType.includes('json')) {
    try {
      const error = validator.validate(schema, response.json());
      if (error) {
        add('schema', error);
      }
    } catch {
      add('schema', 'body is not JSON');
    }
  }
  return found;
}
