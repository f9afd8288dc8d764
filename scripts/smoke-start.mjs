#!/usr/bin/env node
// Smoke test of `npm start` on the Node that runs this script (CI runs it with the machine's Node 20 while
// the suite runs on Node 24): starts the app on a free port with a fresh embedded database in a temporary
// DATA_DIR, waits for GET /health/live to answer 200 (at most 120 s), stops it with SIGTERM and expects it
// gone without an error line. Prints one line and exits 1 on any failure, with the app's output.
// Usage: node scripts/smoke-start.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npmStart } from './lib/npm-start.mjs';

const dataDir = mkdtempSync(join(tmpdir(), 'nestor-smoke-'));
const app = await npmStart({ cwd: join(import.meta.dirname, '..'), dataDir });
let failure;
let seconds;
try {
  seconds = (await app.live(120_000)).toFixed(1);
} catch (error) {
  failure = error.message;
}
const stopped = await app.stop();
rmSync(dataDir, { recursive: true, force: true });
if (!failure && !stopped) {
  failure = 'the app still runs 30 s after SIGTERM';
}
// The app logs an error line whenever its shutdown fails or takes too long.
if (!failure && /"level":(50|60)/.test(app.output)) {
  failure = 'the app logged an error';
}
if (failure) {
  console.log(`smoke: npm start on Node ${process.version} FAILED: ${failure}\n${app.output}`);
  process.exit(1);
}
console.log(
  `smoke: npm start on Node ${process.version} answered /health/live in ${seconds} s and stopped cleanly`,
);
