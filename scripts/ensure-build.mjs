// Builds dist/ (the server), admin/dist (the admin UI) and graphiql/dist (the GraphiQL page) when missing or
// older than their sources, so `npm start` works on a fresh checkout and after a `git pull` without a
// separate build step. Never runs while the server is starting. `ensure-build.mjs [server] [root]`: `root` is the project to build (an app
// that installed Nestor builds with the package's scripts); by default this repository.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const scripts = import.meta.dirname;
const root = resolve(process.argv[3] ?? join(scripts, '..'));

function newest(path) {
  if (!existsSync(path)) {
    return 0;
  }
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    return stat.mtimeMs;
  }
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs);
}

// This repository's build ends with the bundle of its example app (bundle-server.mjs); an app's has none.
const bundled = root === resolve(scripts, '..');
const builds = [
  {
    what: 'dist/',
    marker: join('dist', ...(bundled ? ['bundle', 'launch.js'] : ['src', 'main.js'])),
    sources: ['src', 'migrations', 'package.json'],
    command: [join(scripts, 'build-server.mjs'), root],
  },
  ...['admin', 'graphiql'].map((ui) => ({
    what: `${ui}/dist/`,
    marker: join(ui, 'dist', 'index.html'),
    config: join(ui, 'vite.config.ts'),
    sources: [`${ui}/src`, `${ui}/index.html`, `${ui}/vite.config.ts`, `${ui}/package.json`, 'package.json'],
    command: [
      join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      join(ui, 'vite.config.ts'),
    ],
  })),
];

function isStale({ marker, sources }) {
  const path = join(root, marker);
  const builtAt = existsSync(path) ? statSync(path).mtimeMs : 0;
  const changed = [...sources.map((s) => join(root, s)), join(scripts, 'build-server.mjs')];
  if (bundled) {
    changed.push(join(scripts, 'bundle-server.mjs'));
  }
  return builtAt === 0 || changed.some((s) => newest(s) > builtAt);
}
// `ensure-build.mjs server` builds only dist/: the CLI needs no web UI. An app has no admin or GraphiQL
// sources: it serves the UIs the package ships.
const wanted = builds.filter(
  ({ config }) => !config || (process.argv[2] !== 'server' && existsSync(join(root, config))),
);
const stale = () => wanted.filter(isStale);

// One build at a time: the server build empties dist/ first, so two concurrent builds (parallel tests, two
// `npm start`s) would break each other. mkdir is atomic; a lock older than 5 minutes is from a dead build.
const lock = join(root, '.build-lock');
function acquire() {
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch {
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 5 * 60_000) {
        rmSync(lock, { recursive: true, force: true });
      } else {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      }
    }
  }
}

/** Runs one build in a child process; resolves with its exit code. */
function run({ what, command: [script, ...args] }) {
  process.stderr.write(`Building Nestor (${what} is missing or older than the sources)…\n`);
  const child = spawn(process.execPath, [script, ...args], {
    cwd: root,
    stdio: 'inherit',
    // A build is always a production build: Vite (and React) would follow NODE_ENV=test from Jest.
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return new Promise((resolve) => child.once('close', (code) => resolve(code ?? 1)));
}

if (stale().length > 0) {
  acquire();
  try {
    // The server and the admin UI do not depend on each other: built side by side.
    const codes = await Promise.all(stale().map(run));
    process.exitCode = codes.find((code) => code !== 0) ?? 0;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
