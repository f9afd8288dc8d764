/**
 * Contender "raw": hand-written Fastify + `pg` with prepared (named) statements and JSON-schema response
 * serialisation, answering the benchmark's product routes with byte-identical JSON to Nestor's (the harness
 * checks). Only the subset of the query language the scenarios use: limit, page, after, sort, filter[price],
 * include=category. No auth, no audit entry, no ETag: the floor a framework is measured against.
 */
import Fastify, { FastifyReply } from 'fastify';
import { Pool, QueryConfig } from 'pg';
import * as qs from 'qs';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({
  logger: false,
  routerOptions: {
    querystringParser: (s: string) =>
      qs.parse(s, { depth: 3, arrayLimit: 50, parameterLimit: 200, allowPrototypes: false }),
  },
});

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
const product = { type: 'object', properties: productProperties };
const productWithCategory = { type: 'object', properties: { ...productProperties, category } };
const listSchema = (item: object) => ({
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

const COLUMNS = `t.id, t.name, t.sku, t.description, t.price, t.stock, t.status, t."categoryId", t."createdAt",
  t."updatedAt", t.version, t."deletedAt",
  ARRAY(SELECT pt."tagId" FROM product_tags pt WHERE pt."productId" = t.id ORDER BY pt."tagId") AS "tagIds"`;
const CATEGORY_COLUMNS = `c.id AS c_id, c.name AS c_name, c.slug AS c_slug, c.description AS c_description,
  c."parentId" AS c_parent, c."createdAt" AS c_created, c."updatedAt" AS c_updated`;

type Row = Record<string, unknown>;
const statements = new Map<string, string>();
/** A named (server-side prepared) statement per distinct SQL text. */
function prepared(text: string, values: unknown[]): QueryConfig {
  let name = statements.get(text);
  if (!name) {
    name = `raw_${statements.size}`;
    statements.set(text, name);
  }
  return { name, text, values };
}

function notFound(reply: FastifyReply, detail: string) {
  return reply
    .code(404)
    .type('application/problem+json')
    .send({ type: 'about:blank', title: 'Not Found', status: 404, detail });
}
function badRequest(reply: FastifyReply, detail: string) {
  return reply
    .code(400)
    .type('application/problem+json')
    .send({ type: 'about:blank', title: 'Bad Request', status: 400, detail });
}

app.get<{ Params: { id: string } }>(
  '/api/products/:id',
  { schema: { response: { 200: product } } },
  async (request, reply) => {
    const { id } = request.params;
    if (!/^\d{1,9}$/.test(id)) {
      return notFound(reply, `No Product with id ${id}.`);
    }
    const { rows } = await pool.query(
      prepared(`SELECT ${COLUMNS} FROM product t WHERE t.id = $1 AND t."deletedAt" IS NULL`, [Number(id)]),
    );
    return rows[0] ?? notFound(reply, `No Product with id ${id}.`);
  },
);

/** Sortable columns; timestamps go into cursors as ISO text with microseconds, as Nestor's do. */
const SORTABLE: Record<string, string> = {
  id: 't.id',
  price: 't.price',
  createdAt: 't."createdAt"',
  name: 't.name',
};
const CURSOR_KEY: Record<string, string> = {
  createdAt: `to_char(t."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "__createdAt"`,
};

app.get<{ Querystring: Record<string, unknown> }>(
  '/api/products',
  { schema: { response: { 200: listSchema(productWithCategory) } } },
  async (request, reply) => {
    const query = request.query;
    const limit = Math.min(Number(query.limit ?? 20), 100);
    const page = query.after === undefined ? Number(query.page ?? 1) : null;
    const sortText = typeof query.sort === 'string' ? query.sort : '-createdAt';
    const include = query.include === 'category';
    const sort = sortText.split(',').map((term) => ({
      key: term.replace(/^-/, ''),
      desc: term.startsWith('-'),
    }));
    if (!sort.some((s) => s.key === 'id')) {
      sort.push({ key: 'id', desc: sort[sort.length - 1].desc });
    }
    if (!Number.isInteger(limit) || limit < 1 || sort.some((s) => !SORTABLE[s.key])) {
      return badRequest(reply, 'Bad list parameters.');
    }
    const values: unknown[] = [];
    const where = ['t."deletedAt" IS NULL'];
    const priceFilter = (query.filter as Record<string, Record<string, string>> | undefined)?.price;
    for (const [op, sql] of [
      ['gte', '>='],
      ['lte', '<='],
    ]) {
      if (priceFilter?.[op] !== undefined) {
        values.push(priceFilter[op]);
        where.push(`t.price ${sql} $${values.length}`);
      }
    }
    const countValues = [...values];
    const countSql = `SELECT count(*)::int AS n FROM product t WHERE ${where.join(' AND ')}`;
    if (query.after !== undefined) {
      // Keyset: the row value comparison works when every term sorts the same way (the scenarios' sorts).
      const cursor = JSON.parse(Buffer.from(query.after as string, 'base64url').toString()) as unknown[];
      const columns = sort.map((s) => SORTABLE[s.key]);
      const placeholders = cursor.map((value) => {
        values.push(value);
        return `$${values.length}`;
      });
      where.push(`(${columns.join(', ')}) ${sort[0].desc ? '<' : '>'} (${placeholders.join(', ')})`);
    }
    const order = sort.map((s) => `${SORTABLE[s.key]} ${s.desc ? 'DESC' : 'ASC'}`).join(', ');
    const offset = page !== null ? (page - 1) * limit : 0;
    const sql =
      `SELECT ${[COLUMNS, ...sort.flatMap((s) => CURSOR_KEY[s.key] ?? []), ...(include ? [CATEGORY_COLUMNS] : [])].join(', ')} FROM product t` +
      `${include ? ' LEFT JOIN category c ON c.id = t."categoryId"' : ''} WHERE ${where.join(' AND ')}` +
      ` ORDER BY ${order} LIMIT ${limit + 1}${offset ? ` OFFSET ${offset}` : ''}`;
    const [{ rows }, counted] = await Promise.all([
      pool.query<Row>(prepared(sql, values)),
      pool.query<{ n: number }>(prepared(countSql, countValues)),
    ]);
    const more = rows.length > limit;
    if (more) {
      rows.pop();
    }
    if (include) {
      for (const row of rows) {
        row.category =
          row.c_id === null
            ? null
            : {
                id: row.c_id,
                name: row.c_name,
                slug: row.c_slug,
                description: row.c_description,
                parentId: row.c_parent,
                createdAt: row.c_created,
                updatedAt: row.c_updated,
              };
      }
    }
    const last = rows[rows.length - 1];
    const nextCursor =
      more && last
        ? Buffer.from(
            JSON.stringify(sort.map((s) => (CURSOR_KEY[s.key] ? last[`__${s.key}`] : last[s.key]))),
          ).toString('base64url')
        : null;
    const total = counted.rows[0].n;
    const path = request.url.split('?')[0];
    const link = (changes: Record<string, unknown>): string => {
      const merged: Record<string, unknown> = { ...query, ...changes };
      for (const key of Object.keys(merged)) {
        if (merged[key] === undefined) {
          delete merged[key];
        }
      }
      const search = qs.stringify(merged, { arrayFormat: 'comma' });
      return search ? `${path}?${search}` : path;
    };
    return {
      data: rows,
      meta: { page, limit, total, pageCount: Math.ceil(total / limit), nextCursor },
      links: {
        self: link({}),
        next:
          page !== null
            ? more
              ? link({ page: page + 1, after: undefined })
              : null
            : nextCursor
              ? link({ after: nextCursor, page: undefined })
              : null,
        prev: page !== null && page > 1 ? link({ page: page - 1, after: undefined }) : null,
      },
    };
  },
);

const createBody = {
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

app.post<{ Body: Row }>(
  '/api/products',
  { schema: { body: createBody, response: { 201: product } } },
  async (request, reply) => {
    const b = request.body;
    try {
      const { rows } = await pool.query(
        prepared(
          `WITH t AS (INSERT INTO product (name, sku, description, price, stock, status, "categoryId", version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1) RETURNING *) SELECT ${COLUMNS} FROM t`,
          [b.name, b.sku, b.description ?? null, b.price, b.stock ?? 0, b.status ?? 'draft', b.categoryId],
        ),
      );
      return reply
        .code(201)
        .header('location', `/api/products/${String((rows[0] as Row).id)}`)
        .send(rows[0]);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '23505' || code === '23503') {
        return reply
          .code(code === '23505' ? 409 : 422)
          .type('application/problem+json')
          .send({ type: 'about:blank', title: 'Conflict', status: 409 });
      }
      throw error;
    }
  },
);

app.get('/health/live', () => Promise.resolve({ status: 'ok' }));

app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(
  () => process.stdout.write(`raw listening on ${process.env.PORT}\n`),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
const stop = () => void app.close().then(() => pool.end().then(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
