// Audits Nestor's HTTPS with testssl.sh (Debian: `apt-get install testssl.sh`): builds if needed, makes a
// throwaway certificate with openssl, starts the built server with TLS_CERT_FILE/TLS_KEY_FILE on the
// embedded database, runs testssl.sh's protocol, cipher and server-default checks against it, and fails
// (exit 1) if SSLv2, SSLv3, TLS 1.0 or TLS 1.1 is offered, TLS 1.2 or 1.3 is not, or any offered cipher is
// not forward-secret AEAD (ECDHE with AES-GCM or ChaCha20-Poly1305; TLS 1.3's suites). Takes about 30 s.
// Usage: node scripts/tls-check.mjs [--out report.txt]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedEnv, freePort } from './lib/npm-start.mjs';

const root = join(import.meta.dirname, '..');
const testssl = ['testssl', 'testssl.sh'].find((name) => spawnSync(name, ['--version']).status === 0);
if (!testssl) {
  console.error('testssl.sh is not installed: apt-get install -y testssl.sh');
  process.exit(1);
}
execFileSync(process.execPath, [join(root, 'scripts', 'ensure-build.mjs')], { cwd: root, stdio: 'inherit' });

const dir = mkdtempSync(join(tmpdir(), 'nestor-tls-check-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2',
  '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
], { stdio: 'pipe' }); // prettier-ignore

const port = await freePort();
const server = spawn(process.execPath, [join(root, 'dist', 'bundle', 'launch.js'), 'main'], {
  cwd: root,
  env: embeddedEnv({
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: join(dir, 'data'),
    TLS_CERT_FILE: certFile,
    TLS_KEY_FILE: keyFile,
    LOG_LEVEL: 'warn',
  }),
  stdio: ['ignore', 'pipe', 'pipe'],
});
let serverOutput = '';
server.stdout.on('data', (chunk) => (serverOutput += chunk));
server.stderr.on('data', (chunk) => (serverOutput += chunk));

/** The first answer from /health/live over HTTPS, or a throw after 60 s or if the server exits. */
async function live() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the server did not answer over HTTPS:\n${serverOutput}`);
    }
    const curl = spawnSync('curl', ['-skf', `https://127.0.0.1:${port}/health/live`]);
    if (curl.status === 0) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

let failures = [];
try {
  await live();
  const started = performance.now();
  // -p protocols, -P server cipher preference, -s cipher categories, -E each cipher per protocol, -S
  // certificate and server defaults.
  const run = spawnSync(
    testssl,
    ['--quiet', '--color', '0', '--warnings', 'batch', '-p', '-P', '-s', '-E', '-S', `127.0.0.1:${port}`],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const report = run.stdout.replace(/\n{3,}/g, '\n\n');
  const out = process.argv.indexOf('--out');
  if (out !== -1) {
    writeFileSync(process.argv[out + 1], report);
  }
  console.log(report);
  console.log(`testssl.sh took ${seconds} s`);

  // `TLS 1` matches only its own line: on `TLS 1.1`'s, a dot follows, not a space.
  const protocol = (name) =>
    new RegExp(`^\\s*${name.replace('.', '\\.')}\\s+(.*)$`, 'm').exec(report)?.[1] ?? '';
  for (const name of ['SSLv2', 'SSLv3', 'TLS 1', 'TLS 1.1']) {
    if (!/^not offered/.test(protocol(name))) {
      failures.push(`${name} is offered (or was not tested): "${protocol(name)}"`);
    }
  }
  for (const name of ['TLS 1.2', 'TLS 1.3']) {
    if (!/^offered/.test(protocol(name))) {
      failures.push(`${name} is not offered: "${protocol(name)}"`);
    }
  }
  // Lines of the per-protocol cipher table: ` xc02f   ECDHE-RSA-AES128-GCM-SHA256   ECDH 253   AESGCM ...`.
  const ciphers = [...report.matchAll(/^\s*x[0-9a-f]{4}\s+(\S+)\s+(\S+)(?:\s+\d+)?\s+(\S+)/gm)].map(
    ([, name, kx, encryption]) => ({ name, kx, encryption }),
  );
  if (ciphers.length === 0) {
    failures.push('testssl.sh listed no cipher: the report could not be read');
  }
  for (const { name, kx, encryption } of ciphers) {
    const tls13 = name.startsWith('TLS_');
    if (!/^(AESGCM|ChaCha20)$/.test(encryption) || (!tls13 && kx !== 'ECDH')) {
      failures.push(`weak cipher offered: ${name} (${kx}, ${encryption})`);
    }
  }
  console.log(`Ciphers offered: ${ciphers.map((c) => c.name).join(', ')}`);
} catch (error) {
  failures = [String(error)];
} finally {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`TLS check failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
  process.exit(1);
}
console.log('TLS check passed: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers only.');
