// `npm start` run from a script as a user runs it, for scripts/smoke-start.mjs and scripts/measure-start.mjs.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname } from 'node:path';

/** A TCP port nothing listens on. Example: `const port = await freePort()`. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The environment for `npm start` on the Node running this script (its folder first on PATH, so npm and
 * the app use it) with nothing that points elsewhere (DATABASE_URL, REDIS_URL, …): the embedded default.
 */
export function embeddedEnv(extra = {}) {
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'NODE_ENV', 'LOG_LEVEL']) {
    delete env[name];
  }
  return { ...env, ...extra };
}

/**
 * Runs `npm start` in `cwd` on a free port with `DATA_DIR=dataDir`, and measures it.
 * Example: `const app = await npmStart({ cwd, dataDir }); const s = await app.live(120_000); await app.stop()`.
 */
export async function npmStart({ cwd, dataDir, env = {} }) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn('npm', ['start'], {
    cwd,
    env: embeddedEnv({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ...env }),
    detached: true, // its own process group: whatever a failed stop leaves is killed with it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app = { output: '', port };
  child.stdout.on('data', (chunk) => (app.output += chunk));
  child.stderr.on('data', (chunk) => (app.output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));

  /** Seconds from the spawn to the first 200 from /health/live; throws when it exits or `ms` pass first. */
  app.live = async (ms) => {
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`npm start exited ${child.exitCode} before answering`);
      }
      if (performance.now() - started > ms) {
        throw new Error(`no answer from /health/live within ${ms / 1000} s`);
      }
      const response = await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined);
      if (response?.ok) {
        return (performance.now() - started) / 1000;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  /**
   * SIGTERM to npm alone, as a process manager sends it (npm passes it to its script's shell, which the
   * start script replaces with the app: `exec node …`), then waits up to `ms` for the app itself, whose pid
   * is in its JSON log lines. Resolves whether the app is gone; the rest of the group is killed either way.
   */
  app.stop = async (ms = 30_000) => {
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await exited;
    const pid = Number(/"pid":(\d+)/.exec(app.output)?.[1]);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + ms;
    while (pid && alive() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stopped = !(pid && alive());
    try {
      process.kill(-child.pid, 'SIGKILL'); // whatever is left of the group, so nothing outlives a failed check
    } catch {
      // all gone
    }
    return stopped;
  };
  return app;
}
