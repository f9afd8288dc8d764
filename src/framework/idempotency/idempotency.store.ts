import type { EntityManager } from 'typeorm';

/** A response as it is replayed: status, the headers that describe it, and the body bytes. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One request's hold on a key: `token` fences it against a retry that took a dead claim over. */
export interface ClaimRef {
  scope: string;
  key: string;
  token: string;
}

/** What a store answers when a request asks for a key. */
export type ClaimResult =
  | { kind: 'claimed' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' }
  | { kind: 'lost' };

/** A key's record as a store reads it back, for {@link verdict}. */
export interface ExistingRecord {
  fingerprint: string;
  response?: StoredResponse;
  committed: boolean;
  /** Whether the claim's lease still runs (its request is alive, or just finishing). */
  leased: boolean;
}

/**
 * The answer for a key someone already holds: another request under it is a 422; a finished one is
 * replayed; a committed one whose request is gone without a response is "lost"; anything else is running.
 */
export function verdict(existing: ExistingRecord, fingerprint: string): ClaimResult {
  if (existing.fingerprint !== fingerprint) {
    return { kind: 'mismatch' };
  }
  if (existing.response) {
    return { kind: 'replay', response: existing.response };
  }
  return existing.committed && !existing.leased ? { kind: 'lost' } : { kind: 'in-progress' };
}

/**
 * Where idempotency records live (the `idempotency_key` table, or Redis). Every write after `claim` is
 * fenced by the claim's token: a request whose claim was taken over changes nothing.
 */
export interface IdempotencyStore {
  /**
   * Claims the key for a new request (also when its record expired, or when a claim died before committing
   * anything), or tells what became of the request that holds it.
   */
  claim(ref: ClaimRef, fingerprint: string, leaseMs: number, ttlSeconds: number): Promise<ClaimResult>;
  /** Renews the lease of a running request. */
  renew(ref: ClaimRef, leaseMs: number): Promise<void>;
  /**
   * Inside the request's write transaction, just before COMMIT: records that the request took effect.
   * False when the claim is no longer this request's (the transaction must then roll back).
   */
  markCommitted(ref: ClaimRef, manager: EntityManager): Promise<boolean>;
  /** Stores the response that retries replay. */
  complete(ref: ClaimRef, response: StoredResponse): Promise<void>;
  /**
   * Gives the key up after a response that is not stored: forgotten when nothing was committed (a retry
   * runs afresh), else its lease ends (a retry learns the response is lost, and nothing runs twice).
   */
  release(ref: ClaimRef): Promise<void>;
  /** Deletes expired records; returns how many. */
  prune(): Promise<number>;
  close(): Promise<void>;
}
