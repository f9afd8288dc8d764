#!/usr/bin/env node
// `npm run cluster -- --api 3 --workers 2 --port 8080`: N API processes and M workers of the built app on one
// PostgreSQL (DATABASE_URL) and, when set, one Redis (REDIS_URL), behind HAProxy on loopback, to try
// scale-out on one machine. Ctrl-C stops everything (the API processes drain first).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startHaproxy, writeLoopbackConfig } from './lib/haproxy.mjs';
import { freePort } from './lib/npm-start.mjs';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    api: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    port: { type: 'string', default: '8080' },
    'stats-port': { type: 'string', default: '8404' },
  },
});
if (!process.env.DATABASE_URL) {
  process.stderr.write(
    'npm run cluster needs a PostgreSQL server: set DATABASE_URL (and REDIS_URL to share request budgets and\n' +
      'run jobs on Redis), e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/nestor npm run cluster\n',
  );
  process.exit(1);
}

const run = (args) => {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    process.exit(result.status ?? 1);
  }
};
run([join(ROOT, 'scripts', 'ensure-build.mjs')]);
// Migrations run once, before any process starts (as a deploy does), not at each process's boot.
run([join(ROOT, 'dist', 'src', 'cli.js'), 'migrate']);

const env = {
  ...process.env,
  NODE_ENV: process.env.NODE_ENV ?? 'production',
  HOST: '127.0.0.1',
  // HAProxy checks each process every second: info would log every check.
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  // Longer than HAProxy takes to mark a draining process down (2 checks, 1 s apart).
  SHUTDOWN_DRAIN_MS: process.env.SHUTDOWN_DRAIN_MS ?? '3000',
  // The API processes leave jobs to the workers.
  WORKERS: 'off',
};
const children = [];
function start(entry, extra, name) {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', `${entry}.js`)], {
    cwd: ROOT,
    env: { ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches only this script, which then sends each child one SIGTERM.
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) =>
      process.stdout.write(
        chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((line) => `[${name}] ${line}\n`)
          .join(''),
      ),
    );
  }
  children.push(child);
  return child;
}

const ports = [];
for (let i = 1; i <= Number(values.api); i++) {
  const port = await freePort();
  ports.push(port);
  start('main', { PORT: String(port) }, `api${i} :${port}`);
}
for (let i = 1; i <= Number(values.workers); i++) {
  start('worker', {}, `worker${i}`);
}
const dir = mkdtempSync(join(tmpdir(), 'nestor-cluster-'));
const config = join(dir, 'haproxy.cfg');
writeLoopbackConfig(config, ports);
const proxy = await startHaproxy(
  config,
  {
    HAPROXY_BIND: `127.0.0.1:${values.port}`,
    HAPROXY_STATS_BIND: `127.0.0.1:${values['stats-port']}`,
    HAPROXY_STATS_SOCKET: join(dir, 'haproxy.sock'),
  },
  Number(values.port),
);
proxy.child.stderr.on('data', (chunk) => process.stdout.write(`[haproxy] ${chunk}`));
process.stdout.write(
  `\nNestor cluster: ${values.api} API processes (ports ${ports.join(', ')}) and ${values.workers} workers\n` +
    `  API through HAProxy  http://127.0.0.1:${values.port}\n` +
    `  HAProxy stats        http://127.0.0.1:${values['stats-port']}/\n` +
    `  Try: kill -9 one API process, or kill -TERM it, and watch the stats page.\n\n`,
);

let stopping = false;
const stop = async () => {
  if (stopping) {
    return;
  }
  stopping = true;
  process.stdout.write('Stopping: API processes drain, workers finish their jobs…\n');
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) {
            return resolve();
          }
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  proxy.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
