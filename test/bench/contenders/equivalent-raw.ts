/**
 * Contender "equivalent-raw": hand-written Fastify + `pg` doing the work Nestor's semantics require, so
 * Nestor against it shows the price of the framework (against "raw", the price of the features too).
 * - `GET /api/products/:id`: the row, its ETag (SHA-1 of the row's JSON, as Nestor's), Cache-Control as
 *   Nestor's for an anonymous read of a cached resource, and `If-None-Match` answered 304.
 * - `POST /api/products`: the bearer JWT verified as Nestor's JwtStrategy does (HS256 only, key derived from
 *   SECRET_KEY with HKDF, issuer, audience, `exp` required, `sub` numeric), the user loaded with its
 *   permissions and the token's session checked not revoked (Nestor's principal query), `products.add`
 *   checked, the body validated, then one transaction: the INSERT … RETURNING and the audit entry (same
 *   `audit_entry` row as Nestor's, checked by the harness), 201 with Location and ETag.
 * - One JSON log line per answered request (pino, authorization and cookie redacted) at LOG_LEVEL (default
 *   `info`, as Nestor in production), like Nestor's request log, written synchronously as Nestor's is.
 * Not done (Nestor does): security headers, request id header, metrics, rate limits, API-version headers.
 */
import { createHash, createSecretKey } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { JwtPayload, verify } from 'jsonwebtoken';
import pino from 'pino';
import type { PoolClient } from 'pg';
import { deriveKey } from 'src/framework/crypto/keys';
import {
  INSERT_SQL,
  Row,
  createBodySchema,
  insertValues,
  notFound,
  pool,
  prepared,
  problem,
  productSchema,
  rawApp,
  readProduct,
  serve,
  writeConflict,
} from 'test/bench/contenders/raw-common';

// Written before the call returns, as Nestor writes its lines (logDestination).
const logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    serializers: { req: pino.stdSerializers.req, res: pino.stdSerializers.res },
  },
  pino.destination({ dest: 1, sync: true }),
);
const app = rawApp({ loggerInstance: logger, disableRequestLogging: true });
app.addHook('onResponse', (request, reply, done) => {
  if (request.url !== '/health/live') {
    const req = Object.assign(request.raw, { id: request.id });
    logger.info({ req, res: reply.raw, responseTime: Math.round(reply.elapsedTime) }, 'request completed');
  }
  done();
});

/** The ETag Nestor sends for a row: the SHA-1 of its JSON, base64url, quoted. */
function etagOf(row: Row): string {
  return `"${createHash('sha1').update(JSON.stringify(row)).digest('base64url')}"`;
}

/**
 * Cache-Control of the shop's products for an anonymous read (`cache: { ttl: 60 }`, maxAge 0): browsers
 * revalidate every time, with the ETag.
 */
const CACHE_CONTROL = 'public, no-cache';

app.get<{ Params: { id: string } }>(
  '/api/products/:id',
  { schema: { response: { 200: productSchema } } },
  async (request, reply) => {
    const row = await readProduct(request.params.id);
    if (!row) {
      return notFound(reply, `No Product with id ${request.params.id}.`);
    }
    const etag = etagOf(row);
    void reply.header('etag', etag).header('cache-control', CACHE_CONTROL);
    const noneMatch = request.headers['if-none-match'];
    if (noneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')) {
      return reply.code(304).send();
    }
    return row;
  },
);

/** Nestor's access-token key and claims (src/framework/auth: token.service.ts, jwt.strategy.ts). */
const JWT_KEY = createSecretKey(deriveKey(process.env.SECRET_KEY!, 'jwt'));
const JWT_OPTIONS = { algorithms: ['HS256' as const], issuer: 'nestor', audience: 'nestor-api' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The caller's user with its permissions (direct and through groups), unless inactive or the session is revoked. */
const PRINCIPAL_SQL = `SELECT u.id, u.email, u."isSuperuser",
    ARRAY(SELECT p.codename FROM permission p WHERE p.id IN (
      SELECT up."permissionId" FROM user_permissions up WHERE up."userId" = u.id
      UNION SELECT gp."permissionId" FROM group_permissions gp
        JOIN user_groups ug ON ug."groupId" = gp."groupId" WHERE ug."userId" = u.id)) AS permissions
  FROM "user" u WHERE u.id = $1 AND u."isActive"
   AND NOT EXISTS (SELECT 1 FROM refresh_token r WHERE r.family = $2::uuid AND r."revokedAt" IS NOT NULL)`;

interface Caller {
  id: number;
  email: string;
  isSuperuser: boolean;
  permissions: string[];
}

/** The signed-in caller of a request, or a 401 already sent (undefined). */
async function authenticate(
  authorization: string | undefined,
  reply: FastifyReply,
): Promise<Caller | undefined> {
  const [scheme, token] = authorization?.split(' ') ?? [];
  let claims: JwtPayload | undefined;
  try {
    claims =
      scheme?.toLowerCase() === 'bearer' && token
        ? (verify(token, JWT_KEY, JWT_OPTIONS) as JwtPayload)
        : undefined;
  } catch {
    claims = undefined;
  }
  if (!claims || typeof claims.exp !== 'number' || !claims.sub || !/^\d+$/.test(claims.sub)) {
    void problem(reply, 401, 'Unauthorized', 'The access token is invalid.');
    return undefined;
  }
  const family = typeof claims.fam === 'string' && UUID.test(claims.fam) ? claims.fam : null;
  const { rows } = await pool.query<Caller>(prepared(PRINCIPAL_SQL, [Number(claims.sub), family]));
  if (!rows[0]) {
    void problem(reply, 401, 'Unauthorized', 'The access token is invalid.');
  }
  return rows[0];
}

/** The audit entry's `changes` of a create: every set field but the bookkeeping ones, as `[null, value]`. */
function createdChanges(row: Row): Record<string, [null, unknown]> {
  const changes: Record<string, [null, unknown]> = {};
  for (const [key, value] of Object.entries(row)) {
    const set = value !== null && !(Array.isArray(value) && value.length === 0);
    if (set && key !== 'id' && key !== 'createdAt' && key !== 'updatedAt' && key !== 'version') {
      changes[key] = [null, value instanceof Date ? value.toISOString() : value];
    }
  }
  return changes;
}

const AUDIT_SQL = `INSERT INTO audit_entry ("actorId", "actorEmail", via, resource, "recordId", operation, "actionName", changes)
  VALUES ($1, $2, 'api', 'products', $3, 'create', NULL, $4::jsonb)`;

async function insertAudited(client: PoolClient, body: Row, caller: Caller): Promise<Row> {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query<Row>(prepared(INSERT_SQL, insertValues(body)));
    const row = rows[0];
    await client.query(
      prepared(AUDIT_SQL, [caller.id, caller.email, String(row.id), JSON.stringify(createdChanges(row))]),
    );
    await client.query('COMMIT');
    return row;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

app.post<{ Body: Row }>(
  '/api/products',
  { schema: { body: createBodySchema, response: { 201: productSchema } } },
  async (request, reply) => {
    const caller = await authenticate(request.headers.authorization, reply);
    if (!caller) {
      return reply;
    }
    if (!caller.isSuperuser && !caller.permissions.includes('products.add')) {
      return problem(reply, 403, 'Forbidden', 'This needs the products.add permission.');
    }
    const client = await pool.connect();
    try {
      const row = await insertAudited(client, request.body, caller);
      return reply
        .code(201)
        .header('location', `/api/products/${String(row.id)}`)
        .header('etag', etagOf(row))
        .send(row);
    } catch (error) {
      const answered = writeConflict(reply, error);
      if (answered) {
        return answered;
      }
      throw error;
    } finally {
      client.release();
    }
  },
);

serve(app, 'equivalent-raw');
