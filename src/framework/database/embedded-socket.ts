import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';

/** Gives the embedded database's single connection back (see `createPGliteDriver`). */
export type Release = () => void;
/** Waits for exclusive use of the embedded database's single connection. */
export type Lease = () => Promise<Release>;

/** libpq and node-postgres reach a socket directory `dir` at `dir/.s.PGSQL.<port>`. */
export const EMBEDDED_SOCKET_PORT = 5432;
/** A borrower idle inside a transaction this long is disconnected: it must not stall the owner. */
export const IDLE_IN_TRANSACTION_MS = 10_000;

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const TERMINATE = 0x58; // 'X'
const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I': ReadyForQuery outside any transaction
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
/** sun_path holds 108 bytes on Linux and 104 on macOS, with the terminating NUL. */
const MAX_SOCKET_PATH = 103;

/** The socket file inside a socket directory. */
export function socketFile(socketDir: string): string {
  return join(socketDir, `.s.PGSQL.${EMBEDDED_SOCKET_PORT}`);
}

/**
 * A private directory (mode 0700, this user's) for the socket of the database in `dataDir`: beside it when
 * the path fits a socket address, else a fresh one in the temporary directory.
 */
export function createSocketDir(dataDir: string): string {
  const beside = `${dataDir}.socket`;
  if (socketFile(beside).length > MAX_SOCKET_PATH) {
    return mkdtempSync(join(tmpdir(), 'nestor-db-')); // mkdtemp makes it 0700
  }
  mkdirSync(beside, { recursive: true, mode: 0o700 });
  const stat = lstatSync(beside);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.()) {
    throw new Error(`${beside} is not a directory of this user`);
  }
  chmodSync(beside, 0o700);
  return beside;
}

/** One borrowing client: PostgreSQL messages in, PGlite's answers out, the connection leased per transaction. */
class Session {
  private buffer = Buffer.alloc(0);
  private started = false;
  private closed = false;
  private work: Promise<void> = Promise.resolve();
  private release?: Release;
  private idle?: NodeJS.Timeout;
  private ended!: () => void;
  /** Settles once the client has gone and the connection is given back. */
  readonly finished = new Promise<void>((resolve) => (this.ended = resolve));

  constructor(
    private readonly socket: Socket,
    private readonly db: PGlite,
    private readonly lease: Lease,
    private readonly idleInTransactionMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.then(() => this.drain());
    });
    socket.on('error', () => undefined); // 'close' follows and cleans up
    socket.on('close', () => {
      this.closed = true;
      this.then(() => this.finish());
    });
  }

  /** Messages are handled one after another, in order; a failure ends the session. */
  private then(step: () => Promise<void>): void {
    this.work = this.work.then(step).catch(() => {
      this.socket.destroy();
    });
  }

  /** The next whole message: the startup packets have no type byte, every later one has. */
  private next(): Buffer | undefined {
    const header = this.started ? 5 : 8;
    if (this.buffer.length < header) {
      return undefined;
    }
    const length = this.started ? 1 + this.buffer.readInt32BE(1) : this.buffer.readInt32BE(0);
    if (this.buffer.length < length) {
      return undefined;
    }
    const message = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return message;
  }

  private async drain(): Promise<void> {
    for (let message = this.next(); message && !this.closed; message = this.next()) {
      if (!this.started) {
        const code = message.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N'); // a local socket: no encryption to negotiate
          continue;
        }
        if (code === CANCEL_REQUEST) {
          this.socket.end(); // nothing runs in a backend of its own to cancel
          return;
        }
        this.started = true;
      } else if (message[0] === TERMINATE) {
        this.socket.end();
        return;
      }
      await this.run(message);
    }
  }

  private async run(message: Buffer): Promise<void> {
    clearTimeout(this.idle);
    // From the first message of a transaction (or of an implicit one: Parse … Sync) to the ReadyForQuery that
    // says it ended, the connection is this session's: the owner's transactions queue meanwhile, as ours did.
    this.release ??= await this.lease();
    if (this.closed) {
      return; // gone while it waited: finish() gives the connection back
    }
    let tail = Buffer.alloc(0);
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(new Uint8Array(message), {
        onRawData: (data) => {
          const chunk = Buffer.from(data);
          tail = Buffer.concat([tail, chunk]).subarray(-6);
          if (!this.closed) {
            this.socket.write(chunk);
          }
        },
      }),
    );
    // ReadyForQuery ('Z', length 5, status) with status 'I' ends every answer outside a transaction. Text-format
    // rows (node-postgres asks for text) contain no NUL bytes, so no other answer ends with these bytes.
    const ready = tail.length === 6 && tail[0] === READY_FOR_QUERY && tail.readInt32BE(1) === 5;
    if (ready && tail[5] === IDLE) {
      this.giveBack();
    } else {
      this.idle = setTimeout(() => this.socket.destroy(), this.idleInTransactionMs);
      this.idle.unref();
    }
  }

  private giveBack(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  /** The client left: end whatever it left open before the connection is given back. */
  private async finish(): Promise<void> {
    clearTimeout(this.idle);
    if (this.release) {
      // Sync ends an unfinished extended-protocol exchange (Parse/Bind without Sync); then the transaction.
      await this.db.runExclusive(() => this.db.execProtocolRaw(SYNC)).catch(() => undefined);
      if (this.db.isInTransaction()) {
        await this.db.exec('ROLLBACK').catch(() => undefined); // not inside runExclusive: exec takes its lock
      }
      this.giveBack();
    }
    this.ended();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A running share of the embedded database; `close()` disconnects every borrower. */
export interface EmbeddedShare {
  readonly socketDir: string;
  close(): Promise<void>;
}

/**
 * Serves the embedded database in this process to other local processes (the `nestor` commands beside
 * `npm start`) on a Unix socket that speaks the PostgreSQL protocol, so they connect with `pg` instead of
 * opening the files, which one process at a time may do. PGlite itself answers each message
 * (`execProtocolRawStream`); every client transaction takes the single connection through `lease`, exactly as
 * this process's own query runners do, so the two never interleave. The socket is the owner's alone (0600
 * in a 0700 directory).
 * Example: `const share = await shareEmbedded(db, () => pool.lease(), createSocketDir(dataDir))`.
 */
export async function shareEmbedded(
  db: PGlite,
  lease: Lease,
  socketDir: string,
  { idleInTransactionMs = IDLE_IN_TRANSACTION_MS }: { idleInTransactionMs?: number } = {},
): Promise<EmbeddedShare> {
  const path = socketFile(socketDir);
  rmSync(path, { force: true }); // left by a process that died: its lock was taken over already
  const sessions = new Set<Session>();
  const server: Server = createServer((socket) => {
    const session = new Session(socket, db, lease, idleInTransactionMs);
    sessions.add(session);
    void session.finished.then(() => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return {
    socketDir,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const open = [...sessions];
      open.forEach((session) => session.close());
      await Promise.all(open.map((session) => session.finished));
      await closed;
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
