#!/usr/bin/env node
// Measures the README's quick start as a new user meets it: a fresh `git clone` of this checkout's HEAD into
// a temporary folder, `npm ci`, then `npm start` until GET /health/live answers 200 — the first time (it
// builds dist/ and admin/dist/) and a second time (nothing to build). Runs on the Node that runs this script
// (its folder goes first on PATH, so npm and the app use it too).
// Usage: node scripts/measure-start.mjs [--runs 2] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { embeddedEnv, npmStart } from './lib/npm-start.mjs';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '2' }, keep: { type: 'boolean', default: false } },
});
const root = join(import.meta.dirname, '..');

function timed(label, command, args, cwd) {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd, env: embeddedEnv(), encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${label} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
  return (performance.now() - started) / 1000;
}

/** Seconds from `npm start` to the first 200 from /health/live; stops the app afterwards. */
async function timeStart(cwd, dataDir) {
  const app = await npmStart({ cwd, dataDir });
  try {
    return await app.live(300_000);
  } catch (error) {
    throw new Error(`${error.message}:\n${app.output}`, { cause: error });
  } finally {
    await app.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'nestor-measure-'));
try {
  const clone = join(dir, 'nestor');
  timed('git clone', 'git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
  const npmCi = timed('npm ci', 'npm', ['ci', '--no-audit', '--no-fund'], clone);
  const starts = [];
  for (let run = 0; run < Number(values.runs); run++) {
    starts.push(await timeStart(clone, join(dir, 'data')));
  }
  const [first, ...later] = starts.map((s) => s.toFixed(1));
  console.log(
    `Node ${process.version}: npm ci ${npmCi.toFixed(1)} s, first start ${first} s, later start ${later.join(' / ')} s`,
  );
} finally {
  if (values.keep) {
    console.log(`kept ${dir}`);
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
}
