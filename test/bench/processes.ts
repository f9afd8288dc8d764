import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..', '..');
/** Where bench.mjs put the transpiled contenders. */
export const BENCH_OUT = join(ROOT, '.tmp', 'bench', 'test', 'bench');
/** bench.mjs's snapshot of dist/ (the Nestor that is measured), safe from rebuilds during the run. */
export const DIST = join(ROOT, '.tmp', 'bench', 'dist');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resident set size of a process in MB (from /proc), or NaN when it is gone or not on Linux. */
export function rssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

/** A process's /proc/<pid>/stat: its command name and the fields after it; undefined when it is gone. */
function procStat(pid: number | string | undefined): { comm: string; fields: string[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces or parentheses itself.
    const close = stat.lastIndexOf(')');
    return {
      comm: stat.slice(stat.indexOf('(') + 1, close),
      fields: stat.slice(close + 2).split(' '),
    };
  } catch {
    return undefined;
  }
}

// After the command name: ppid is the 2nd field, utime, stime, cutime and cstime the 12th to 15th (in ticks).
const PPID = 1;
const TICKS = 100; // USER_HZ is 100 on Linux
const ownTicks = (fields: string[]) => Number(fields[11]) + Number(fields[12]);
const reapedTicks = (fields: string[]) => Number(fields[13]) + Number(fields[14]);

/** CPU seconds (user + system) a process has used so far, from /proc; NaN when unavailable. */
export function cpuSeconds(pid: number | undefined): number {
  const stat = procStat(pid);
  return stat ? ownTicks(stat.fields) / TICKS : Number.NaN;
}

/** CPU seconds used so far by this machine's PostgreSQL and Redis servers (see serviceCpuSeconds). */
export interface ServiceCpu {
  postgres: number;
  redis: number;
}

/**
 * CPU seconds (user + system) the local PostgreSQL and Redis servers have used so far, from /proc: every
 * `postgres` process (postmaster, backends, background workers) plus what the postmaster's exited children
 * used (a backend whose connection closed is reaped and counted there), and every `redis-server` process.
 * The difference of two readings is what the servers did in between, for whoever asked them: the benchmark
 * runs alone, so that is its contender. NaN where /proc is not readable (not Linux).
 * Example: `const before = serviceCpuSeconds(); await work(); const pg = serviceCpuSeconds().postgres - before.postgres`.
 */
export function serviceCpuSeconds(): ServiceCpu {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return { postgres: Number.NaN, redis: Number.NaN };
  }
  const ticks = { postgres: 0, redis: 0 };
  const postgres = new Map<string, string[]>();
  for (const pid of pids) {
    const stat = procStat(pid);
    if (stat?.comm === 'postgres') {
      postgres.set(pid, stat.fields);
      ticks.postgres += ownTicks(stat.fields);
    } else if (stat?.comm === 'redis-server') {
      ticks.redis += ownTicks(stat.fields);
    }
  }
  for (const fields of postgres.values()) {
    if (!postgres.has(fields[PPID])) {
      ticks.postgres += reapedTicks(fields); // the postmaster
    }
  }
  return { postgres: ticks.postgres / TICKS, redis: ticks.redis / TICKS };
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request on a fresh connection (checks, login, readiness). */
export function http(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: options.timeoutMs ?? 30_000,
        headers: {
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A child process of the benchmark with its output kept for error messages. */
export class BenchProcess {
  /** Every process the benchmark started and that has not exited, for cleanup on Ctrl-C. */
  static readonly running = new Set<BenchProcess>();
  readonly child: ChildProcess;
  readonly startedAt = process.hrtime.bigint();
  output = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, args, { cwd: ROOT, env });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    BenchProcess.running.add(this);
    void this.exited.then(() => BenchProcess.running.delete(this));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Polls `GET path` until it answers 200; returns seconds since spawn. */
  async waitReady(port: number, path: string, ms = 60_000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.child.exitCode !== null) {
        throw new Error(`${this.name} exited with ${this.child.exitCode} before answering:\n${this.output}`);
      }
      const answer = await http(port, 'GET', path, { timeoutMs: 2000 }).catch(() => undefined);
      if (answer?.status === 200) {
        return Number(process.hrtime.bigint() - this.startedAt) / 1e9;
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name} did not answer ${path} within ${ms} ms:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Waits for the process to end by itself; throws with its output on a non-zero exit. */
  async finished(): Promise<string> {
    const code = await this.exited;
    if (code !== 0) {
      throw new Error(`${this.name} exited with ${code}:\n${this.output}`);
    }
    return this.output;
  }

  /** SIGTERM this process (only this pid), then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs a Nestor CLI command to completion (migrate, createsuperuser). */
export function nestorCli(args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(process.execPath, [join(DIST, 'src', 'cli.js'), ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) {
    throw new Error(`nestor ${args.join(' ')} failed (${result.status}):\n${result.stdout}${result.stderr}`);
  }
}
