// Builds dist/ when it is missing or older than the sources, so `npm start` works on a fresh checkout
// and after a `git pull` without a separate build step. Never runs while the server is starting.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const marker = join(root, 'dist', 'src', 'main.js');

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

const sources = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
const stale = () => {
  const builtAt = existsSync(marker) ? statSync(marker).mtimeMs : 0;
  return builtAt === 0 || sources.some((s) => newest(join(root, s)) > builtAt);
};

// One build at a time: `nest build` empties dist/ first, so two concurrent builds (parallel tests, two
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

if (stale()) {
  acquire();
  try {
    if (stale()) {
      process.stderr.write('Building Nestor (dist/ is missing or older than the sources)…\n');
      const result = spawnSync(
        process.execPath,
        [join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build'],
        { cwd: root, stdio: 'inherit' },
      );
      if (result.status !== 0) {
        process.exitCode = result.status ?? 1;
      }
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
