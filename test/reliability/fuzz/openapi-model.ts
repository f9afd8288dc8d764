/** The parts of an OpenAPI 3.1 document the fuzzer reads, and a JSON Schema `$ref` resolver over it. */

export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  readOnly?: boolean;
  writeOnly?: boolean;
  [keyword: string]: unknown;
};

export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  style?: string;
  schema?: JsonSchema;
}

export interface MediaType {
  schema?: JsonSchema;
}

export interface ResponseObject {
  $ref?: string;
  description?: string;
  content?: Record<string, MediaType>;
}

export interface OperationObject {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
  security?: Record<string, string[]>[];
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, JsonSchema>; responses?: Record<string, ResponseObject> };
}

/** One operation of the document, flattened for the fuzzer. */
export interface Operation {
  /** `GET /api/products/{id}` */
  key: string;
  method: string;
  path: string;
  operation: OperationObject;
  pathParams: Parameter[];
  queryParams: Parameter[];
  headerParams: Parameter[];
  /** The JSON request body schema, if the operation takes one. */
  body?: JsonSchema;
  bodyRequired: boolean;
  /** A generated resource (`/api/<resource>` with the query language). */
  resource: boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) {
        continue;
      }
      const parameters = operation.parameters ?? [];
      const json = operation.requestBody?.content['application/json'];
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        operation,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters.filter((p) => p.in === 'query'),
        headerParams: parameters.filter((p) => p.in === 'header'),
        body: json?.schema,
        bodyRequired: operation.requestBody?.required ?? false,
        resource:
          parameters.some((p) => p.name.startsWith('filter[')) ||
          /^\/api\/[a-z-]+(\/\{id\}(\/restore)?)?$/.test(path),
      });
    }
  }
  return operations;
}

/** Follows `#/components/schemas/X` references (one level at a time; schemas may be recursive). */
export function resolve(document: OpenApiDocument, schema: JsonSchema | undefined): JsonSchema {
  let current = schema ?? {};
  for (let hops = 0; current.$ref && hops < 10; hops++) {
    const name = current.$ref.replace('#/components/schemas/', '');
    current = document.components.schemas[name] ?? {};
  }
  return current;
}
