// The built app (dist/) started as `npm start` starts it, on a fresh embedded database of its own, for scripts
// that measure it from outside (test/reliability/soak.mjs, test/openapi/swagger-defaults.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// eslint-disable-next-line no-restricted-imports -- a plain Node script: no src/ or test/ path alias here
import { freePort } from '../../scripts/lib/npm-start.mjs';

export const ROOT = join(import.meta.dirname, '..', '..');

function run(script, argv, env) {
  const result = spawnSync(process.execPath, [script, ...argv], { cwd: ROOT, env, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${argv.join(' ')} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
}

/**
 * Builds the server if stale (unless `build: false`), migrates the database — DATABASE_URL's if set, else a
 * fresh embedded one in a temporary DATA_DIR; `embedded: true` ignores DATABASE_URL and REDIS_URL —, runs
 * the `nestor` CLI `commands` on it (e.g. `[['seed', '--count', '20']]`), then starts the bundle as `npm start`
 * does (`dist/bundle/launch.js main`) on a free port with `env` added and waits until it answers.
 * Example: `const app = await startBuiltApp({ commands: [['seed']] }); …; await app.stop();`
 */
export async function startBuiltApp({ env: extra = {}, commands = [], build = true, embedded = false } = {}) {
  if (build) {
    run(join(ROOT, 'scripts', 'ensure-build.mjs'), ['server'], process.env);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'nestor-app-'));
  const port = await freePort();
  const inherited = { ...process.env };
  if (embedded) {
    delete inherited.DATABASE_URL;
    delete inherited.REDIS_URL;
  }
  const env = {
    ...inherited,
    NODE_ENV: 'development', // migrates on start, and the embedded database is allowed
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    ...extra,
  };
  const cli = join(ROOT, 'dist', 'src', 'cli.js');
  for (const command of [['migrate'], ...commands]) {
    run(cli, command, env);
  }
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'bundle', 'launch.js'), 'main'], {
    cwd: ROOT,
    env,
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the server did not start (exit ${child.exitCode}):\n${output}`);
    }
    const res = await fetch(`${url}/health/live`).catch(() => undefined);
    if (res?.status === 200) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    pid: child.pid,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
