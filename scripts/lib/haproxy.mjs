// HAProxy on loopback in front of Nestor processes: for `npm run cluster` and test/scale.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

const SHIPPED = join(import.meta.dirname, '..', '..', 'deploy', 'haproxy', 'haproxy.cfg');

/**
 * The shipped deploy/haproxy/haproxy.cfg with its DNS server-template replaced by one `server` line per
 * loopback port (named api1, api2, …), written to `file`.
 * Example: `writeLoopbackConfig('/tmp/haproxy.cfg', [3001, 3002])`.
 */
export function writeLoopbackConfig(file, ports) {
  const shipped = readFileSync(SHIPPED, 'utf8');
  const template = /^\s*server-template api .*$/m;
  if (!template.test(shipped)) {
    throw new Error(`${SHIPPED}: no "server-template api" line to replace`);
  }
  const servers = ports.map((port, i) => `    server api${i + 1} 127.0.0.1:${port}`).join('\n');
  writeFileSync(file, shipped.replace(template, servers));
}

/**
 * Starts `haproxy -db` (foreground) on the config `file`; resolves once it accepts connections on `port`.
 * Example: `const proxy = await startHaproxy(file, { HAPROXY_BIND: '127.0.0.1:8080', … }, 8080)`.
 */
export async function startHaproxy(file, env, port) {
  // Its own process group: a Ctrl-C meant for the caller does not stop the proxy before the servers drain.
  const child = spawn('haproxy', ['-db', '-f', file], { env: { ...process.env, ...env }, detached: true });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`haproxy did not start (exit ${child.exitCode}):\n${output}`);
    }
    const open = await new Promise((resolve) => {
      const socket = createConnection(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output };
}

/** Sends one command to HAProxy's runtime API (the stats socket) and resolves with its answer. */
export function haproxyCommand(socketPath, command) {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = createConnection(socketPath, () => socket.write(`${command}\n`));
    socket.on('data', (chunk) => (answer += chunk));
    socket.once('end', () => resolve(answer));
    socket.once('error', reject);
  });
}

/**
 * The servers of `backend` as HAProxy sees them, from `show stat`: name → status (`UP`, `DOWN`,
 * `UP 1/2`, `NOLB`, …). Example: `(await serverStatus(sock, 'api')).get('api1')` → `'UP'`.
 */
export async function serverStatus(socketPath, backend = 'api') {
  const csv = await haproxyCommand(socketPath, 'show stat');
  const [header, ...rows] = csv.trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const at = (name) => columns.indexOf(name);
  const result = new Map();
  for (const row of rows) {
    const cells = row.split(',');
    if (cells[at('pxname')] === backend && !['FRONTEND', 'BACKEND'].includes(cells[at('svname')])) {
      result.set(cells[at('svname')], cells[at('status')]);
    }
  }
  return result;
}
