import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';

/** How long a caller may wait for the single embedded connection before we call it a deadlock. */
const ACQUIRE_TIMEOUT_MS = 30_000;

type Release = (err?: unknown) => void;
type ConnectCallback = (err: Error | null, client: PGliteClient | null, release: Release) => void;

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
      return this.db.query(sql, params);
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
  const file = lockPath(dataDir);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8'));
    if (pid && pidAlive(pid)) {
      throw new Error(
        `NST-D002 The embedded database in ${dataDir} is already open in process ${pid}` +
          `${pid === process.pid ? ' (this one)' : ''}. Stop that process, or set DATABASE_URL to share a PostgreSQL server.`,
      );
    }
  }
  writeFileSync(file, String(process.pid));
}

/**
 * A `pg`-compatible driver for TypeORM over embedded PGlite. PGlite has one connection, so `connect()`
 * hands it to one query runner at a time: a transaction holds it from BEGIN to COMMIT and concurrent
 * requests queue instead of interleaving inside each other's transactions.
 * Example: `new DataSource({ type: 'postgres', driver: createPGliteDriver('./data/pglite') })`.
 */
export function createPGliteDriver(dataDir?: string): { Pool: new () => EventEmitter } {
  class Pool extends EventEmitter {
    private readonly ready: Promise<PGlite>;
    private holder: PGliteClient | undefined;
    private readonly waiting: Array<() => void> = [];

    constructor() {
      super();
      this.ready = (async () => {
        if (dataDir) {
          mkdirSync(dataDir, { recursive: true });
          takeLock(dataDir);
        }
        return PGlite.create({
          dataDir,
          // Match node-postgres: int8 as string (no precision loss), booleans sent as SQL literals.
          parsers: { [types.INT8]: (value: string) => value },
          serializers: {
            [types.BOOL]: (value: unknown) => (value === true || value === 'true' ? 'TRUE' : 'FALSE'),
          },
        });
      })();
      // Surface creation errors through connect(); avoid an unhandled rejection meanwhile.
      this.ready.catch(() => undefined);
    }

    connect(callback: ConnectCallback): void {
      this.acquire().then(
        ([client, release]) => callback(null, client, release),
        (err: Error) => callback(err, null, () => undefined),
      );
    }

    private async acquire(): Promise<[PGliteClient, Release]> {
      const db = await this.ready;
      if (this.holder) {
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
      const client = new PGliteClient(db);
      this.holder = client;
      const release: Release = () => {
        if (client.released) {
          return;
        }
        client.released = true;
        void this.handOver(db, client);
      };
      return [client, release];
    }

    private async handOver(db: PGlite, client: PGliteClient): Promise<void> {
      // A lease given back mid-transaction must not leak its transaction into the next holder.
      if (!db.closed && db.isInTransaction()) {
        await db.exec('ROLLBACK').catch(() => undefined);
      }
      if (this.holder === client) {
        this.holder = undefined;
      }
      const next = this.waiting.shift();
      if (next) {
        // Reserve the connection for the next waiter before anyone else can take it.
        this.holder = client;
        next();
      }
    }

    end(callback?: (err?: Error) => void): void {
      this.ready
        .then(async (db) => {
          await db.close();
          if (dataDir) {
            rmSync(lockPath(dataDir), { force: true });
          }
        })
        .then(
          () => callback?.(),
          (err: Error) => callback?.(err),
        );
    }
  }
  return { Pool };
}
