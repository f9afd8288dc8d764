import { Logger } from '@nestjs/common';
import { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { DatabaseHangGuard, missingInternals } from 'src/framework/database/hang-guard';

describe('DatabaseHangGuard and the pg internals it reads', () => {
  let pool: Pool;
  let error: jest.SpyInstance;

  beforeEach(() => {
    // Never connects: the guard's reads need a pool and a client object, not a server.
    pool = new Pool({ host: '127.0.0.1', port: 1, max: 2 });
    error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    error.mockRestore();
    await pool.end();
  });

  it('finds every internal it reads in the installed pg and pg-pool', () => {
    // An upgrade that renames one fails here, before a hung server finds the guard blind.
    expect(missingInternals(pool)).toEqual([]);
  });

  it('names each internal a pool lacks', () => {
    const internals = pool as unknown as Record<string, unknown>;
    const queue = internals._pendingQueue;
    delete internals._pendingQueue;
    try {
      expect(missingInternals(pool)).toEqual(['Pool._pendingQueue']);
    } finally {
      internals._pendingQueue = queue; // pool.end() reads it
    }
  });

  it('says at watch time which internals the installed pg lacks', () => {
    const guard = new DatabaseHangGuard({} as DataSource);
    const internals = pool as unknown as Record<string, unknown>;
    const clients = internals._clients;
    delete internals._clients;
    const unwatch = guard.watch(pool);
    try {
      expect(error).toHaveBeenCalledTimes(1);
      expect(error).toHaveBeenCalledWith(expect.stringContaining('(Pool._clients)'));
    } finally {
      unwatch();
      guard.onApplicationShutdown();
      internals._clients = clients; // pool.end() reads it
    }
  });

  it('watches a pool of the supported pg without a word', () => {
    const guard = new DatabaseHangGuard({} as DataSource);
    const unwatch = guard.watch(pool);
    unwatch();
    guard.onApplicationShutdown();
    expect(error).not.toHaveBeenCalled();
  });
});
