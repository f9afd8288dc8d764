import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** CPU seconds (user + system) a process has used so far, from /proc; NaN when unavailable. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
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
