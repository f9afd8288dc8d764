/**
 * What the two hand-written contenders share ("raw" and "equivalent-raw"): the Fastify app with the `qs`
 * query parser, the `pg` pool, the response schemas Fastify compiles into serialisers, the product columns
 * as Nestor reads them, named prepared statements, problem answers, and start/stop. Each contender adds its
 * own routes, so the two differ only in the work they do per request.
 */
import Fastify, { FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { Pool, QueryConfig } from 'pg';
import * as qs from 'qs';

export type Row = Record<string, unknown>;

/** The pool both raw contenders use: Nestor's default pool size. */
export const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

/** A Fastify app parsing nested query strings (`filter[price][gte]=10`) with qs, as Nestor does. */
export function rawApp(options: FastifyServerOptions = {}): FastifyInstance {
  return Fastify({
    logger: false,
    ...options,
    routerOptions: {
      querystringParser: (s: string) =>
        qs.parse(s, { depth: 3, arrayLimit: 50, parameterLimit: 200, allowPrototypes: false }),
    },
  });
}

const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
const productProperties = {
  id: { type: 'integer' },
  name: { type: 'string' },
  sku: { type: 'string' },
  description: nullable('string'),
  price: { type: 'string' },
  stock: { type: 'integer' },
  status: { type: 'string' },
  categoryId: { type: 'integer' },
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
  version: { type: 'integer' },
  deletedAt: nullable('string', { format: 'date-time' }),
  tagIds: { type: 'array', items: { type: 'integer' } },
};
const category = {
  type: ['object', 'null'],
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    slug: { type: 'string' },
    description: nullable('string'),
    parentId: nullable('integer'),
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};
/** One product as Nestor's API shows it. */
export const productSchema = { type: 'object', properties: productProperties };
export const productWithCategorySchema = { type: 'object', properties: { ...productProperties, category } };
/** A list page: `{ data, meta, links }`. */
export const listSchema = (item: object) => ({
  type: 'object',
  properties: {
    data: { type: 'array', items: item },
    meta: {
      type: 'object',
      properties: {
        page: nullable('integer'),
        limit: { type: 'integer' },
        total: { type: 'integer' },
        pageCount: { type: 'integer' },
        nextCursor: nullable('string'),
      },
    },
    links: {
      type: 'object',
      properties: { self: { type: 'string' }, next: nullable('string'), prev: nullable('string') },
    },
  },
});

/** The create body, as the shop's Product declares it (Nestor validates the same rules with class-validator). */
export const createBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'sku', 'price', 'categoryId'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    sku: { type: 'string', maxLength: 64, pattern: '^[A-Z0-9][A-Z0-9-]*$' },
    description: { type: ['string', 'null'], maxLength: 10000 },
    price: { type: 'string', pattern: '^\\d{1,8}(\\.\\d{1,2})?$' },
    stock: { type: 'integer', minimum: 0 },
    status: { type: 'string', enum: ['draft', 'active', 'archived'] },
    categoryId: { type: 'integer', minimum: 1 },
  },
};

/** A product's columns in the order of Nestor's representation (`t` is the product row). */
export const COLUMNS = `t.id, t.name, t.sku, t.description, t.price, t.stock, t.status, t."categoryId", t."createdAt",
  t."updatedAt", t.version, t."deletedAt",
  ARRAY(SELECT pt."tagId" FROM product_tags pt WHERE pt."productId" = t.id ORDER BY pt."tagId") AS "tagIds"`;
export const CATEGORY_COLUMNS = `c.id AS c_id, c.name AS c_name, c.slug AS c_slug, c.description AS c_description,
  c."parentId" AS c_parent, c."createdAt" AS c_created, c."updatedAt" AS c_updated`;

/** One live product by id. */
const GET_SQL = `SELECT ${COLUMNS} FROM product t WHERE t.id = $1 AND t."deletedAt" IS NULL`;
/** A live product by its id as the URL gives it, or undefined (not a product id, or no such product). */
export async function readProduct(id: string): Promise<Row | undefined> {
  if (!/^\d{1,9}$/.test(id)) {
    return undefined;
  }
  const { rows } = await pool.query<Row>(prepared(GET_SQL, [Number(id)]));
  return rows[0];
}

/** Inserts a product and returns it as GET_SQL reads it: one statement. */
export const INSERT_SQL = `WITH t AS (INSERT INTO product (name, sku, description, price, stock, status, "categoryId", version)
  VALUES ($1, $2, $3, $4, $5, $6, $7, 1) RETURNING *) SELECT ${COLUMNS} FROM t`;
/** INSERT_SQL's values from a validated create body, with the entity's defaults. */
export function insertValues(b: Row): unknown[] {
  return [b.name, b.sku, b.description ?? null, b.price, b.stock ?? 0, b.status ?? 'draft', b.categoryId];
}

const statements = new Map<string, string>();
/** A named (server-side prepared) statement per distinct SQL text. */
export function prepared(text: string, values: unknown[]): QueryConfig {
  let name = statements.get(text);
  if (!name) {
    name = `raw_${statements.size}`;
    statements.set(text, name);
  }
  return { name, text, values };
}

/** A problem+json answer (RFC 9457). */
export function problem(reply: FastifyReply, status: number, title: string, detail?: string) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title, status, ...(detail ? { detail } : {}) });
}

export function notFound(reply: FastifyReply, detail: string) {
  return problem(reply, 404, 'Not Found', detail);
}

/** A unique or foreign key violation of a create, answered as Nestor does (409 / 422); else undefined. */
export function writeConflict(reply: FastifyReply, error: unknown) {
  const code = (error as { code?: string }).code;
  return code === '23505'
    ? problem(reply, 409, 'Conflict')
    : code === '23503'
      ? problem(reply, 422, 'Unprocessable Content')
      : undefined;
}

/** Serves `/health/live`, listens on PORT, and closes the app and the pool on SIGTERM. */
export function serve(app: FastifyInstance, name: string): void {
  app.get('/health/live', () => Promise.resolve({ status: 'ok' }));
  app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(
    () => process.stdout.write(`${name} listening on ${process.env.PORT}\n`),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
  const stop = () => void app.close().then(() => pool.end().then(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
