import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  EMBEDDED_SOCKET_PORT,
  EmbeddedShare,
  Release,
  createSocketDir,
  shareEmbedded,
  socketFile,
} from 'src/framework/database/embedded-socket';
import { createPGliteDriver } from 'src/framework/database/pglite-driver';

/** A pg client of the shared database, as a `nestor` command connects to it. */
async function borrower(socketDir: string): Promise<Client> {
  const client = new Client({
    host: socketDir,
    port: EMBEDDED_SOCKET_PORT,
    user: 'postgres',
    database: 'postgres',
  });
  client.on('error', () => undefined); // a test that ends the connection from the server side says so itself
  await client.connect();
  return client;
}

/** Whether a promise is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([promise, sleep(ms).then(() => marker)])) === marker;
}

describe(shareEmbedded.name, () => {
  describe('behind the driver of the process that holds the data directory', () => {
    let dir: string;
    let dataDir: string;
    let sut: DataSource;
    let socketDir: string;
    const clients: Client[] = [];
    const connect = async () => {
      const client = await borrower(socketDir);
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nestor-share-'));
      dataDir = join(dir, 'pglite');
      sut = new DataSource({ type: 'postgres', driver: createPGliteDriver(dataDir, { share: true }) });
      await sut.initialize();
      await sut.query('CREATE TABLE item (id int PRIMARY KEY, note text)');
      socketDir = (JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8')) as { socketDir: string }).socketDir;
    });
    afterAll(async () => {
      if (sut.isInitialized) {
        await sut.destroy();
      }
      rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => sut.query('TRUNCATE item'));
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
    });

    it('writes its pid and socket directory in the lock; only this user may use the socket', () => {
      expect(JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8'))).toEqual({
        pid: process.pid,
        socketDir: `${dataDir}.socket`,
      });
      expect(statSync(socketDir).mode & 0o777).toBe(0o700);
      expect(statSync(socketFile(socketDir)).mode & 0o777).toBe(0o600);
      expect(statSync(socketFile(socketDir)).isSocket()).toBe(true);
    });

    it('answers a client with the same data, simple and parameterised queries alike', async () => {
      await sut.query(`INSERT INTO item VALUES (1, 'from the owner')`);
      const client = await connect();

      expect((await client.query('SELECT note FROM item')).rows).toEqual([{ note: 'from the owner' }]);
      await client.query('INSERT INTO item VALUES ($1, $2)', [2, 'from a client']);
      expect(await sut.query('SELECT id, note FROM item ORDER BY id')).toEqual([
        { id: 1, note: 'from the owner' },
        { id: 2, note: 'from a client' },
      ]);
      await expect(client.query('SELECT nope FROM item')).rejects.toThrow('column "nope" does not exist');
      expect((await client.query('SELECT count(*)::int AS n FROM item')).rows).toEqual([{ n: 2 }]);
    });

    it("never runs a client's statements inside the owner's transaction", async () => {
      const client = await connect();
      const runner = sut.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      await runner.query(`INSERT INTO item VALUES (1, 'uncommitted')`);

      const read = client.query('SELECT count(*)::int AS n FROM item');
      expect(await pendingAfter(read, 300)).toBe(true); // waits for the owner's transaction
      await runner.rollbackTransaction();
      await runner.release();

      expect((await read).rows).toEqual([{ n: 0 }]);
    });

    it("keeps the owner's queries out of a client's transaction until it commits", async () => {
      const client = await connect();
      await client.query('BEGIN');
      await client.query(`INSERT INTO item VALUES (1, 'in a client transaction')`);

      const read = sut.query<{ n: number }[]>('SELECT count(*)::int AS n FROM item');
      expect(await pendingAfter(read, 300)).toBe(true);
      await client.query('INSERT INTO item VALUES ($1, $2)', [2, 'still in it']);
      await client.query('COMMIT');

      expect(await read).toEqual([{ n: 2 }]);
    });

    it('holds the connection through a failed transaction until the client rolls back', async () => {
      const client = await connect();
      await client.query('BEGIN');
      await client.query(`INSERT INTO item VALUES (1, 'lost')`);
      await expect(client.query('SELECT 1/0')).rejects.toThrow('division by zero');

      const read = sut.query<{ n: number }[]>('SELECT count(*)::int AS n FROM item');
      expect(await pendingAfter(read, 300)).toBe(true);
      await client.query('ROLLBACK');

      expect(await read).toEqual([{ n: 0 }]);
    });

    it("rolls back what a client left open when it disconnects, and the owner's queries go on", async () => {
      const client = await borrower(socketDir);
      await client.query('BEGIN');
      await client.query(`INSERT INTO item VALUES (1, 'abandoned')`);
      const read = sut.query<{ n: number }[]>('SELECT count(*)::int AS n FROM item');
      expect(await pendingAfter(read, 200)).toBe(true);

      await client.end();

      expect(await read).toEqual([{ n: 0 }]);
      expect(await sut.query(`SELECT count(*)::int AS n FROM item`)).toEqual([{ n: 0 }]);
    });

    it('stops sharing when the owner closes: socket directory and lock are gone, clients disconnected', async () => {
      const client = await connect();
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));

      await sut.destroy();

      await ended;
      expect(() => statSync(socketDir)).toThrow();
      expect(() => statSync(`${dataDir}.lock`)).toThrow();
    });
  });

  describe('with a lease of its own', () => {
    let db: PGlite;
    let dir: string;
    let share: EmbeddedShare;
    let leases = 0;
    let holder: Promise<void> = Promise.resolve();
    /** A one-at-a-time lease, as the driver's. */
    const lease = async (): Promise<Release> => {
      const previous = holder;
      let release!: Release;
      holder = new Promise<void>((resolve) => (release = () => resolve()));
      await previous;
      leases += 1;
      return release;
    };

    beforeAll(async () => {
      db = await PGlite.create();
      dir = mkdtempSync(join(tmpdir(), 'nestor-share-'));
      share = await shareEmbedded(db, lease, createSocketDir(join(dir, 'pglite')), {
        idleInTransactionMs: 300,
      });
    });
    afterAll(async () => {
      await share.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('takes the connection once per transaction, not once per statement', async () => {
      const client = await borrower(share.socketDir);
      const before = leases;
      await client.query('BEGIN');
      await client.query('SELECT 1');
      await client.query('SELECT $1::int', [2]);
      await client.query('COMMIT');
      expect(leases - before).toBe(1);
      await client.query('SELECT 3');
      expect(leases - before).toBe(2);
      await client.end();
    });

    it('disconnects a client idle inside a transaction, so the owner is not held up', async () => {
      const client = await borrower(share.socketDir);
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      await client.query('BEGIN');
      const started = Date.now();

      await ended;
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      const next = await lease(); // given back, and the transaction rolled back
      expect(db.isInTransaction()).toBe(false);
      next();
    });
  });
});
