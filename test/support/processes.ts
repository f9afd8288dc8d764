import { ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** Builds dist/ if it is missing or stale, exactly as `npm start` does. */
export function ensureBuild(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-build.mjs')], { cwd: ROOT, stdio: 'pipe' });
}

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

/** The environment of a child process: the test's own, minus anything that would point it elsewhere. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, REDIS_URL: _redis, NODE_ENV: _env, LOG_LEVEL: _level, ...rest } = process.env;
  return { ...rest, NODE_ENV: 'development', LOG_LEVEL: 'info', HOST: '127.0.0.1', ...env };
}

/**
 * A Nestor process (`<entry>` run as `npm start` / `npm run worker` run it: the bundle's launcher
 * `dist/bundle/launch.js <entry>`; or a script path and its arguments) with its output collected.
 */
export class NestorProcess {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(entry: 'main' | 'worker' | string[], env: Record<string, string>) {
    const args = Array.isArray(entry) ? entry : [join(ROOT, 'dist', 'bundle', 'launch.js'), entry];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: childEnv(env),
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves once the output contains `text`; rejects on exit or after `ms`. */
  async waitFor(text: string, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.output.includes(text)) {
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`"${text}" did not appear (exit ${this.child.exitCode}). Output:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) {
      this.child.kill(signal);
    }
    return this.exited;
  }
}

/** The `nestor` CLI as `npx nestor` runs it in this repository: the bundle, through its launcher. */
export const CLI: readonly string[] = [join(ROOT, 'dist', 'bundle', 'launch.js'), 'cli'];

/**
 * A copy of this repository's dist/ in a fresh folder under `parent`, with node_modules linked beside it as
 * in a checkout: the bundle finds PGlite's data files and the app's migrations relative to itself.
 * Returns the copy's dist/ and its `nestor` command (for {@link cli}); remove `dirname(dist)` after.
 */
export function copyBuild(parent: string): { dist: string; command: string[] } {
  const dir = mkdtempSync(join(parent, 'build-'));
  const dist = join(dir, 'dist');
  cpSync(join(ROOT, 'dist'), dist, { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dist, command: [join(dist, 'bundle', 'launch.js'), 'cli'] };
}

/** Runs the `nestor` CLI to completion: {@link CLI}, or `script` (a path, or a path and its first arguments). */
export function cli(
  args: string[],
  env: Record<string, string>,
  script: string | readonly string[] = CLI,
): { status: number | null; output: string } {
  const command = typeof script === 'string' ? [script] : script;
  const result = spawnSync(process.execPath, [...command, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** How a child process ended, with its output (never throws: a failure shows its own output). */
export interface Ran {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Node script (an installed tool's bin, a compiled program) to its end.
 * Example: `const { ok, stdout } = await runNode([bin('spectral'), 'lint', file])`.
 */
export function runNode(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr }),
    );
  });
}

/** The script behind an installed package's command. Example: `bin('@redocly/cli', 'redocly')`. */
export function bin(pkg: string, command = pkg.split('/').pop()!): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as {
    bin: string | Record<string, string>;
  };
  const file = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin[command];
  return join(ROOT, 'node_modules', pkg, file);
}

/**
 * A fresh folder under the checkout's git-ignored .tmp/, so tools run in it resolve this project's
 * node_modules as a user's project would. Example: `const dir = checkoutTempDir('hey-api-')`.
 */
export function checkoutTempDir(prefix: string): string {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  return mkdtempSync(join(ROOT, '.tmp', prefix));
}
