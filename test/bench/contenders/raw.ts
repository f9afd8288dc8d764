/**
 * Contender "raw": hand-written Fastify + `pg` with prepared (named) statements and JSON-schema response
 * serialisation, answering the benchmark's product routes with byte-identical JSON to Nestor's (the harness
 * checks). Only the subset of the query language the scenarios use: limit, page, after, sort, filter[price],
 * include=category. No auth, no audit entry, no ETag: the floor a framework is measured against.
 */
import { FastifyReply } from 'fastify';
import * as qs from 'qs';
import {
  CATEGORY_COLUMNS,
  COLUMNS,
  INSERT_SQL,
  Row,
  createBodySchema,
  insertValues,
  listSchema,
  notFound,
  pool,
  prepared,
  problem,
  productSchema,
  productWithCategorySchema,
  rawApp,
  readProduct,
  serve,
  writeConflict,
} from 'test/bench/contenders/raw-common';

const app = rawApp();

function badRequest(reply: FastifyReply, detail: string) {
  return problem(reply, 400, 'Bad Request', detail);
}

app.get<{ Params: { id: string } }>(
  '/api/products/:id',
  { schema: { response: { 200: productSchema } } },
  async (request, reply) =>
    (await readProduct(request.params.id)) ?? notFound(reply, `No Product with id ${request.params.id}.`),
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
  { schema: { response: { 200: listSchema(productWithCategorySchema) } } },
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
      // Nestor's cursor starts with the sort it was made for: the values follow.
      const cursor = (
        JSON.parse(Buffer.from(query.after as string, 'base64url').toString()) as unknown[]
      ).slice(1);
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
            JSON.stringify([
              sort.map((s) => (s.desc ? `-${s.key}` : s.key)).join(','),
              ...sort.map((s) => (CURSOR_KEY[s.key] ? last[`__${s.key}`] : last[s.key])),
            ]),
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

app.post<{ Body: Row }>(
  '/api/products',
  { schema: { body: createBodySchema, response: { 201: productSchema } } },
  async (request, reply) => {
    try {
      const { rows } = await pool.query(prepared(INSERT_SQL, insertValues(request.body)));
      return reply
        .code(201)
        .header('location', `/api/products/${String((rows[0] as Row).id)}`)
        .send(rows[0]);
    } catch (error) {
      const answered = writeConflict(reply, error);
      if (answered) {
        return answered;
      }
      throw error;
    }
  },
);

serve(app, 'raw');
