import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { PGlite, types } from '@electric-sql/pglite';
// pg's own parameter preparation (untyped module): what TypeORM's SQL expects of a driver.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };
import {
  EmbeddedShare,
  Release,
  createSocketDir,
  shareEmbedded,
  socketFile,
} from 'src/framework/database/embedded-socket';
import { seedFromTemplate, templateDump } from 'src/framework/database/pglite-template';

/** How long a caller may wait for the single embedded connection before we call it a deadlock. */
const ACQUIRE_TIMEOUT_MS = 30_000;

type ConnectCallback = (
  err: Error | null,
  client: PGliteClient | null,
  release: (err?: unknown) => void,
) => void;

/** One lease of the embedded database's single connection, shaped like a `pg` client for TypeORM. */
class PGliteClient extends EventEmitter {
  released = false;

  constructor(private readonly db: PGlite) {
    super();
  }

  async query(sql: string, params?: unknown[]): Promise<unknown> {
    if (this.released) {
      throw new Error('NST-D003 query on a released embedded-database connection');
    }
    if (params && params.length > 0) {
      // PGlite serialises arrays only for the built-in types it knows; an array of an enum (a list filter on
      // a status) would go out as "a,b" and fail. pg sends every array as an array literal: so do we.
      return this.db.query(
        sql,
        params.map((value) => (Array.isArray(value) ? prepareValue(value) : value)),
      );
    }
    // Parameterless SQL may hold several statements (migrations); pg answers with the last result.
    const results = await this.db.exec(sql);
    return results[results.length - 1] ?? { rows: [], rowCount: 0 };
  }
}

/** Kept beside the database directory: PGlite owns everything inside it. */
function lockPath(dataDir: string): string {
  return `${dataDir}.lock`;
}

/** Who holds a data directory, and the socket directory it shares the database on, if it does. */
interface LockInfo {
  pid: number;
  socketDir?: string;
}

function readLock(dataDir: string): LockInfo | undefined {
  try {
    const parsed = JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as unknown;
    // Older versions wrote the bare pid.
    const info = typeof parsed === 'number' ? { pid: parsed } : (parsed as LockInfo);
    return Number.isInteger(info?.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

function writeLock(dataDir: string, info: LockInfo): void {
  writeFileSync(lockPath(dataDir), JSON.stringify(info), { mode: 0o600 });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Two processes writing one PGlite directory corrupt it, so the directory is locked by pid. */
function takeLock(dataDir: string): void {
  const holder = readLock(dataDir);
  if (holder && pidAlive(holder.pid)) {
    const { pid } = holder;
    throw new Error(
      `NST-D002 The embedded database in ${dataDir} is already open in process ${pid}` +
        `${pid === process.pid ? ' (this one)' : ''}. Stop that process, or set DATABASE_URL to share a PostgreSQL server.`,
    );
  }
  writeLock(dataDir, { pid: process.pid });
}

/**
 * The socket directory through which another live process shares the embedded database in `dataDir`
 * (`npm start` does), or undefined when no process holds it or the holder does not share it.
 * Example: `const dir = sharedSocketDir('./data/pglite')` then `new Client({ host: dir })`.
 */
export function sharedSocketDir(dataDir: string): string | undefined {
  const holder = readLock(dataDir);
  if (!holder?.socketDir || holder.pid === process.pid || !pidAlive(holder.pid)) {
    return undefined;
  }
  return existsSync(socketFile(holder.socketDir)) ? holder.socketDir : undefined;
}

export interface PGliteDriverOptions {
  /**
   * Share the database with other local processes on a Unix socket (see `shareEmbedded`) while this one
   * holds it: the HTTP and worker processes do, so `nestor` commands can run beside them.
   */
  share?: boolean;
}

/** The one PGlite connection, lent to one query runner at a time (see `createPGliteDriver`). */
class EmbeddedPool extends EventEmitter {
  private readonly ready: Promise<PGlite>;
  private sharing?: EmbeddedShare;
  /** Whether a lease is out (or reserved for the next waiter). */
  private held = false;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly dataDir: string | undefined,
    share: boolean,
  ) {
    super();
    this.ready = this.open(share);
    // Surface creation errors through connect(); avoid an unhandled rejection meanwhile.
    this.ready.catch(() => undefined);
  }

  private async open(share: boolean): Promise<PGlite> {
    const { dataDir } = this;
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true });
      takeLock(dataDir);
      await seedFromTemplate(dataDir);
    }
    const db = await PGlite.create({
      dataDir,
      // In memory: the template's cluster instead of initdb.
      loadDataDir: dataDir ? undefined : await templateDump(),
      // Match node-postgres: int8 as string (no precision loss), booleans sent as SQL literals.
      parsers: { [types.INT8]: (value: string) => value },
      serializers: {
        [types.BOOL]: (value: unknown) => (value === true || value === 'true' ? 'TRUE' : 'FALSE'),
      },
    });
    if (dataDir && share) {
      await this.share(db, dataDir);
    }
    return db;
  }

  /** Commands still run without the socket (they stop with NST-D002 instead), so a failure only warns. */
  private async share(db: PGlite, dataDir: string): Promise<void> {
    try {
      this.sharing = await shareEmbedded(db, () => this.lease(db), createSocketDir(dataDir));
      writeLock(dataDir, { pid: process.pid, socketDir: this.sharing.socketDir });
    } catch (error) {
      new Logger('Database').warn(
        `The embedded database is not shared with \`nestor\` commands: ${(error as Error).message}`,
      );
    }
  }

  connect(callback: ConnectCallback): void {
    this.ready
      .then(async (db) => [db, await this.lease(db)] as const)
      .then(
        ([db, release]) => {
          const client = new PGliteClient(db);
          callback(null, client, () => {
            client.released = true;
            release();
          });
        },
        (err: Error) => callback(err, null, () => undefined),
      );
  }

  /** Exclusive use of the single connection until the returned function is called. */
  private async lease(db: PGlite): Promise<Release> {
    if (this.held) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(grant), 1);
          reject(
            new Error(
              'NST-D001 The embedded database connection stayed busy for 30 s. A query probably ran outside ' +
                'the current transaction (use the transaction’s EntityManager), or a transaction was left open.',
            ),
          );
        }, ACQUIRE_TIMEOUT_MS);
        const grant = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.waiting.push(grant);
      });
    }
    this.held = true;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        void this.handOver(db);
      }
    };
  }

  private async handOver(db: PGlite): Promise<void> {
    // A lease given back mid-transaction must not leak its transaction into the next holder.
    if (!db.closed && db.isInTransaction()) {
      await db.exec('ROLLBACK').catch(() => undefined);
    }
    const next = this.waiting.shift();
    if (next) {
      next(); // still held: reserved for the next waiter before anyone else can take it
    } else {
      this.held = false;
    }
  }

  end(callback?: (err?: Error) => void): void {
    this.ready
      .then(async (db) => {
        await this.sharing?.close();
        await db.close();
        if (this.dataDir) {
          rmSync(lockPath(this.dataDir), { force: true });
        }
      })
      .then(
        () => callback?.(),
        (err: Error) => callback?.(err),
      );
  }
}

/**
 * A `pg`-compatible driver for TypeORM over embedded PGlite. PGlite has one connection, so `connect()`
 * hands it to one query runner at a time: a transaction holds it from BEGIN to COMMIT and concurrent
 * requests queue instead of interleaving inside each other's transactions. With `share`, clients of the
 * socket take their turns in the same queue.
 * Example: `new DataSource({ type: 'postgres', driver: createPGliteDriver('./data/pglite') })`.
 */
export function createPGliteDriver(
  dataDir?: string,
  { share = false }: PGliteDriverOptions = {},
): { Pool: new () => EventEmitter } {
  return {
    Pool: class Pool extends EmbeddedPool {
      constructor() {
        super(dataDir, share);
      }
    },
  };
}
