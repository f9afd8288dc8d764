import type { DataSource, EntityManager } from 'typeorm';
import {
  ClaimRef,
  ClaimResult,
  IdempotencyStore,
  StoredResponse,
  verdict,
} from 'src/framework/idempotency/idempotency.store';

/** Rows one prune deletes at a time: a long backlog goes in short statements. */
const PRUNE_BATCH = 5_000;

/**
 * Idempotency records in the `idempotency_key` table (the default store). `markCommitted` runs in the
 * request's own write transaction, so the record and the effect commit together or not at all.
 */
export class DatabaseIdempotencyStore implements IdempotencyStore {
  constructor(private readonly dataSource: DataSource) {}

  async claim(ref: ClaimRef, fingerprint: string, leaseMs: number, ttlSeconds: number): Promise<ClaimResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
      // A new key is inserted; an expired one, or one whose request died before committing anything, is
      // taken over (the old token can then no longer commit). Otherwise nothing is written.
      const claimed = await this.dataSource.query<{ token: string }[]>(
        `INSERT INTO idempotency_key (scope, key, fingerprint, token, "lockedUntil", "expiresAt")
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), now() + make_interval(secs => $6))
         ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token,
           "lockedUntil" = EXCLUDED."lockedUntil", "expiresAt" = EXCLUDED."expiresAt", "createdAt" = now(),
           "committedAt" = NULL, status = NULL, headers = NULL, body = NULL
         WHERE idempotency_key."expiresAt" <= now()
            OR (idempotency_key."committedAt" IS NULL AND idempotency_key.status IS NULL
                AND idempotency_key."lockedUntil" <= now())
         RETURNING token`,
        [ref.scope, ref.key, fingerprint, ref.token, leaseMs / 1000, ttlSeconds],
      );
      if (claimed.length > 0) {
        return { kind: 'claimed' };
      }
      const [existing] = await this.dataSource.query<
        {
          fingerprint: string;
          status: number | null;
          headers: Record<string, string> | null;
          body: Uint8Array | null;
          committed: boolean;
          leased: boolean;
        }[]
      >(
        `SELECT fingerprint, status, headers, body, "committedAt" IS NOT NULL AS committed,
                "lockedUntil" > now() AS leased
           FROM idempotency_key WHERE scope = $1 AND key = $2 AND "expiresAt" > now()`,
        [ref.scope, ref.key],
      );
      if (existing) {
        return verdict(
          {
            fingerprint: existing.fingerprint,
            committed: existing.committed,
            leased: existing.leased,
            response:
              existing.status === null
                ? undefined
                : {
                    status: existing.status,
                    headers: existing.headers ?? {},
                    body: asBuffer(existing.body!),
                  },
          },
          fingerprint,
        );
      }
      // Released (or expired) between the two statements: claim again.
    }
    return { kind: 'in-progress' };
  }

  async renew(ref: ClaimRef, leaseMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_key SET "lockedUntil" = now() + make_interval(secs => $4)
        WHERE scope = $1 AND key = $2 AND token = $3 AND status IS NULL`,
      [ref.scope, ref.key, ref.token, leaseMs / 1000],
    );
  }

  async markCommitted(ref: ClaimRef, manager: EntityManager): Promise<boolean> {
    // A top-level UPDATE … RETURNING comes back from TypeORM as [rows, count]: count through a SELECT.
    const [{ n }] = await manager.query<{ n: number }[]>(
      `WITH marked AS (
         UPDATE idempotency_key SET "committedAt" = coalesce("committedAt", now())
          WHERE scope = $1 AND key = $2 AND token = $3 RETURNING 1)
       SELECT count(*)::int AS n FROM marked`,
      [ref.scope, ref.key, ref.token],
    );
    return n === 1;
  }

  async complete(ref: ClaimRef, response: StoredResponse): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_key SET status = $4, headers = $5, body = $6
        WHERE scope = $1 AND key = $2 AND token = $3`,
      [ref.scope, ref.key, ref.token, response.status, JSON.stringify(response.headers), response.body],
    );
  }

  async release(ref: ClaimRef): Promise<void> {
    const params = [ref.scope, ref.key, ref.token];
    await this.dataSource.query(
      'DELETE FROM idempotency_key WHERE scope = $1 AND key = $2 AND token = $3 AND "committedAt" IS NULL',
      params,
    );
    // Still there: it committed. Ending the lease now makes a retry hear "lost" instead of "in progress".
    await this.dataSource.query(
      'UPDATE idempotency_key SET "lockedUntil" = now() WHERE scope = $1 AND key = $2 AND token = $3',
      params,
    );
  }

  async prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const [{ n }] = await this.dataSource.query<{ n: number }[]>(
        `WITH gone AS (
           DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM idempotency_key WHERE "expiresAt" <= now() LIMIT ${PRUNE_BATCH}))
           RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
      );
      total += n;
      if (n < PRUNE_BATCH) {
        return total;
      }
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The stored body as a Buffer: PGlite (the embedded default) reads `bytea` as a plain Uint8Array, which
 * Fastify refuses to send (FST_ERR_REP_INVALID_PAYLOAD_TYPE); `pg` already gives a Buffer. No copy.
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
