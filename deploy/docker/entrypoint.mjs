#!/usr/bin/env node
// The container's entry point: one image, several roles.
//   api (default)  the HTTP API, admin and docs        (dist/bundle/main.js, through dist/bundle/launch.js)
//   worker         job processors, no HTTP             (dist/bundle/worker.js, likewise)
//   migrate        apply pending migrations, then exit (nestor migrate)
//   nestor …       any other `nestor` command          (dist/bundle/cli.js, likewise)
//   healthcheck    exit 0 when the API in this container answers /health/live (Docker's HEALTHCHECK);
//   healthcheck worker   the same for a worker, on WORKER_HEALTH_PORT
// The role runs in this process (no shell, no child): signals reach it directly, so SIGTERM drains.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');
const [role = 'api', ...rest] = process.argv.slice(2);
// Servers and commands run bundled (one file to load), through the launcher that turns Node's compile cache
// on first.
const ENTRIES = {
  api: [
    ['bundle', 'launch.js'],
    ['main', ...rest],
  ],
  worker: [
    ['bundle', 'launch.js'],
    ['worker', ...rest],
  ],
  migrate: [
    ['bundle', 'launch.js'],
    ['cli', 'migrate', ...rest],
  ],
  nestor: [
    ['bundle', 'launch.js'],
    ['cli', ...rest],
  ],
};

if (role === 'healthcheck') {
  const port = rest[0] === 'worker' ? process.env.WORKER_HEALTH_PORT : (process.env.PORT ?? '3000');
  if (!port) {
    process.stderr.write(
      'healthcheck worker: set WORKER_HEALTH_PORT, where the worker answers its probes.\n',
    );
    process.exit(1);
  }
  const url = `http://127.0.0.1:${port}/health/live`;
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  process.exit(res?.ok ? 0 : 1);
} else if (Object.hasOwn(ENTRIES, role)) {
  const [file, args] = ENTRIES[role];
  const script = join(ROOT, 'dist', ...file);
  // The entry reads its arguments from process.argv, as when started as `node dist/<file> …`.
  process.argv = [process.argv[0], script, ...args];
  await import(pathToFileURL(script).href);
} else {
  process.stderr.write(
    `Unknown role "${role}": expected api, worker, migrate, nestor <command> or healthcheck.\n`,
  );
  process.exit(64);
}
