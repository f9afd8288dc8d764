import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Database and Redis servers of a test's own, on their own ports, for fault injection: the test may kill,
 * pause and restart them without touching the shared services every other test uses.
 */

/** Resolves when `proc`'s output contains `text`; rejects if it exits first. */
function readyWhen(proc: ChildProcess, text: string): Promise<void> {
  let output = '';
  return new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(text)) {
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${String(proc.spawnfile)} exited ${code}: ${output}`)));
  });
}

async function terminate(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    await exited;
  }
}

/** A throwaway redis-server without persistence: a restart starts empty, like a Redis that lost its data. */
export class RedisServer {
  private proc?: ChildProcess;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn('redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    this.proc = proc;
    await readyWhen(proc, 'Ready to accept connections');
  }

  /** SIGTERM is a clean shutdown; SIGKILL is a crash. Either way, without persistence the data is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await terminate(this.proc, signal);
    this.proc = undefined;
  }
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster in a temporary directory (initdb, trust auth, fsync off), listening on 127.0.0.1 and
 * a socket in its own directory. As root, the server runs as the `postgres` user (PostgreSQL refuses root).
 */
export class PostgresServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'nestor-pg-'));
  private proc?: ChildProcess;
  constructor(readonly port: number) {}

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private asServerUser(command: string, args: string[]): [string, string[]] {
    return process.getuid?.() === 0
      ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
      : [command, args];
  }

  async init(): Promise<void> {
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      chownSync(this.dir, uid, gid);
    }
    const [command, args] = this.asServerUser(join(PG_BIN, 'initdb'), [
      '-D',
      join(this.dir, 'data'),
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    execFileSync(command, args, { stdio: 'pipe', cwd: this.dir });
    await this.start();
  }

  async start(): Promise<void> {
    const [command, args] = this.asServerUser(join(PG_BIN, 'postgres'), [
      '-D',
      join(this.dir, 'data'),
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'max_connections=50',
    ]);
    const proc = spawn(command, args, { cwd: this.dir });
    this.proc = proc;
    await readyWhen(proc, 'database system is ready to accept connections');
  }

  /** The postmaster's pid (runuser is only its parent), from postmaster.pid. */
  private postmasterPid(): number | undefined {
    const file = join(this.dir, 'data', 'postmaster.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
  }

  /**
   * `immediate` (SIGQUIT) is a crash: backends die at once, clients see their connections drop, and the next
   * start replays the WAL. `fast` (SIGINT) rolls back open transactions and disconnects.
   */
  async stop(mode: 'immediate' | 'fast' = 'fast'): Promise<void> {
    const pid = this.postmasterPid();
    const proc = this.proc;
    this.proc = undefined;
    if (proc && pid && proc.exitCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      process.kill(pid, mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
      // A postmaster that does not go within 10 s is killed outright (a teardown must not hang).
      const timer = setTimeout(() => {
        for (const target of [pid, proc.pid]) {
          try {
            process.kill(target!, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Every process of the cluster: the postmaster and the backends and workers it forked. */
  private processes(): number[] {
    const pid = this.postmasterPid();
    if (!pid) {
      return [];
    }
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    return [pid, ...children.filter(Boolean).map(Number)];
  }

  /** SIGSTOPs the whole cluster: a hung server (or a partition) rather than a stopped one. */
  pause(): void {
    for (const pid of this.processes()) {
      process.kill(pid, 'SIGSTOP');
    }
  }

  resume(): void {
    for (const pid of this.processes()) {
      process.kill(pid, 'SIGCONT');
    }
    // runuser stops itself when its child is stopped (job control) and is not continued with it: left
    // stopped, it would never reap the postmaster, and stop() would wait forever.
    if (this.proc?.pid && this.proc.exitCode === null) {
      process.kill(this.proc.pid, 'SIGCONT');
    }
  }

  async destroy(): Promise<void> {
    this.resume();
    await this.stop('immediate');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
