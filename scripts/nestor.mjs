#!/usr/bin/env node
// `npx nestor …` (the package's bin): builds dist/ when it is missing or stale, as `npm start` does, so the
// command works on a fresh clone and right after `nestor generate`; then runs the compiled CLI.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const build = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-build.mjs'), 'server'], {
  stdio: ['ignore', process.stderr, 'inherit'], // build chatter never mixes with the command's stdout
});
if (build.status !== 0) {
  process.exit(build.status ?? 1);
}
createRequire(import.meta.url)(join(root, 'dist', 'src', 'cli.js'));
