import { EventEmitter } from 'node:events';
import type { Pool } from 'pg';
import { runPooled } from 'src/framework/resource/prepared-statements';

/** A pool of one client whose query fails with `error` (or answers), recording how it is handed back. */
function poolFailingWith(error?: Error): { pool: Pool; released: unknown[]; client: EventEmitter } {
  const released: unknown[] = [];
  const client = Object.assign(new EventEmitter(), {
    query: () => (error === undefined ? Promise.resolve({ rows: [] }) : Promise.reject(error)),
    release: (err?: Error) => void released.push(err),
  });
  return { pool: { connect: () => Promise.resolve(client) } as unknown as Pool, released, client };
}

const sqlError = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code });

describe(runPooled.name, () => {
  it('hands the connection back for reuse after a statement of its own fails (unique, foreign key)', async () => {
    for (const code of ['23505', '23503', '22P02', '57014']) {
      const { pool, released } = poolFailingWith(sqlError(code));
      await expect(runPooled(pool, { text: 'INSERT …' })).rejects.toThrow(`sqlstate ${code}`);
      expect({ code, released }).toEqual({ code, released: [undefined] });
    }
  });

  it('closes the connection when it is gone: no SQLSTATE, class 08, or the server shutting down', async () => {
    const errors = [new Error('Connection terminated unexpectedly'), sqlError('08006'), sqlError('57P01')];
    for (const error of errors) {
      const { pool, released } = poolFailingWith(error);
      await expect(runPooled(pool, { text: 'SELECT 1' })).rejects.toBe(error);
      expect(released).toEqual([error]);
    }
  });

  it('closes the connection that reported an error event while its query ran, and stops listening after', async () => {
    const broken = new Error('read ECONNRESET');
    const { pool, released, client } = poolFailingWith();
    (client as unknown as { query: () => Promise<unknown> }).query = () => {
      client.emit('error', broken);
      return Promise.resolve({ rows: [] });
    };
    await runPooled(pool, { text: 'SELECT 1' });
    expect(released).toEqual([broken]);
    expect(client.listenerCount('error')).toBe(0);
  });

  it('hands a connection back for reuse after an answer', async () => {
    const { pool, released, client } = poolFailingWith();
    await expect(runPooled(pool, { text: 'SELECT 1' })).resolves.toEqual({ rows: [] });
    expect(released).toEqual([undefined]);
    expect(client.listenerCount('error')).toBe(0);
  });
});
