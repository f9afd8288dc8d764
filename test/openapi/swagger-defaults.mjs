#!/usr/bin/env node
/**
 * Swagger UI with its defaults, for every operation (issue 17 §3; a report, not run in CI — the browser spec
 * test/swagger-ui.e2e-spec.ts covers the list operations on every run):
 *
 *   node test/openapi/swagger-defaults.mjs [--url http://127.0.0.1:3000 --email … --password …] [--json]
 *
 * Without `--url` it builds if needed, migrates and seeds a fresh embedded database in a temporary DATA_DIR
 * (`nestor seed --count 20`, two superusers), starts the bundled server (`dist/bundle/launch.js main`) on a free port and stops it at the
 * end. It logs in as a superuser (staff), opens /docs, Authorizes with the token, and on every operation
 * clicks "Try it out" → "Execute" without typing anything. Writes come after reads and deletes last, so an operation does not
 * remove what a later one reads. Each operation is judged:
 *   ok           a 2xx;
 *   unavoidable  a 4xx the operation documents and cannot avoid without the caller's own input: 404 for an
 *                id in the path that does not exist, 409 for deleting a row others still refer to, or the
 *                statuses listed in NEEDS_INPUT below;
 *   fail         anything else, or Swagger UI refused to send (a required field it left empty or invalid).
 * Prints one line per operation and the share of ok + unavoidable. Exit code 0 when every operation
 * succeeds that way, 1 otherwise.
 */
import { parseArgs } from 'node:util';
// eslint-disable-next-line no-restricted-imports -- a plain Node script: no src/ or test/ path alias here
import { startBuiltApp } from '../support/built-app.mjs';
import { executeWithDefaults, launchChromium, listedOperations, openAuthorized } from './swagger-ui.mjs';

/**
 * Statuses an operation answers to Swagger UI's defaults whatever the document says, because the request
 * must carry something only the caller has (a password, a token from a mail, a TOTP code, a row in a
 * particular state). Each with why.
 */
const NEEDS_INPUT = {
  'auth.login': { 401: 'needs a real password' },
  'auth.refresh': { 401: 'needs a refresh token from a login' },
  'auth.verifyEmail': { 422: 'needs the token from the verification mail' },
  'auth.verifyEmailLink': { 400: 'needs the token from the verification mail' },
  'auth.resendVerification': { 409: "the superuser's address is verified already" },
  'auth.changePassword': { 422: 'needs the current password' },
  'auth.resetPassword': { 422: 'needs the token from the reset mail' },
  'auth.twoFactor.enable': { 409: 'needs 2fa/setup first', 422: 'needs a TOTP code from the app' },
  'auth.twoFactor.disable': { 403: 'needs the password', 422: 'needs a TOTP or recovery code' },
  'auth.twoFactor.replaceRecoveryCodes': { 409: 'needs 2FA turned on', 422: 'needs a TOTP or recovery code' },
  'admin.session.login': { 401: 'needs a real password' },
  'admin.session.get': { 401: 'needs the cookie of an admin.session.login' },
};

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    email: { type: 'string', default: 'admin@example.com' },
    password: { type: 'string', default: 'swagger-defaults-pass' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: node test/openapi/swagger-defaults.mjs [--url URL --email E --password P] [--json]\n',
  );
  process.exit(0);
}

/** The built app on a fresh, seeded, embedded database; user 1 is someone else (see below). */
function startApp() {
  // The defaults' `DELETE /api/users/1` must not delete the account this run is signed in with.
  return startBuiltApp({
    embedded: true,
    env: { NESTOR_SUPERUSER_PASSWORD: args.password },
    commands: [
      ['seed', '--count', '20'],
      ['createsuperuser', '--no-input', '--email', 'someone-else@example.com'],
      ['createsuperuser', '--no-input', '--email', args.email],
    ],
  });
}

/** Reads, then writes, then deletes: an operation must not remove what a later one needs. */
function phase({ method, path }) {
  if (method === 'delete') {
    return 3;
  }
  if (method === 'get' || method === 'head') {
    return 0;
  }
  return path.includes('{') ? 2 : 1;
}

const app = args.url ? { url: args.url.replace(/\/$/, ''), stop: async () => {} } : await startApp();
const browser = await launchChromium();
let results;
try {
  const login = await fetch(`${app.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: args.email, password: args.password }),
  });
  if (!login.ok) {
    throw new Error(`login as ${args.email} answered ${login.status}`);
  }
  const { accessToken } = await login.json();
  const document = await (await fetch(`${app.url}/docs-json`)).json();
  const page = await browser.newPage();
  await openAuthorized(page, app.url, accessToken);
  const operations = (await listedOperations(page))
    .map((op, index) => ({ ...op, index }))
    .sort((a, b) => phase(a) - phase(b) || a.index - b.index);
  results = [];
  for (const op of operations) {
    const documented = document.paths[op.path]?.[op.method];
    const id = documented?.operationId ?? `${op.method} ${op.path}`;
    const outcome = await executeWithDefaults(page, op);
    let verdict = 'fail';
    let why = '';
    if (outcome.sent && outcome.status >= 200 && outcome.status < 300) {
      verdict = 'ok';
    } else if (outcome.sent && documented?.responses?.[outcome.status]) {
      if (outcome.status === 404 && op.path.includes('{')) {
        verdict = 'unavoidable';
        why = 'no such id';
      } else if (outcome.status === 409 && op.method === 'delete') {
        verdict = 'unavoidable';
        why = 'other rows still refer to this id';
      } else if (NEEDS_INPUT[id]?.[outcome.status]) {
        verdict = 'unavoidable';
        why = NEEDS_INPUT[id][outcome.status];
      }
    } else if (outcome.sent) {
      why = 'status not documented';
    } else {
      why = `not sent: ${outcome.invalid.join(', ') || 'invalid input'}`;
    }
    results.push({ operationId: id, method: op.method, path: op.path, ...outcome, verdict, why });
  }
} finally {
  await browser.close();
  await app.stop();
}

const succeeded = results.filter((r) => r.verdict !== 'fail').length;
if (args.json) {
  process.stdout.write(`${JSON.stringify({ total: results.length, succeeded, results }, null, 2)}\n`);
} else {
  for (const r of results) {
    const status = r.sent ? String(r.status) : '---';
    process.stdout.write(
      `${r.verdict.padEnd(12)}${status.padEnd(5)}${r.method.toUpperCase().padEnd(7)}${r.path.padEnd(44)}${r.operationId}${r.why ? `  (${r.why})` : ''}\n`,
    );
  }
  const share = ((100 * succeeded) / results.length).toFixed(0);
  process.stdout.write(
    `\n${succeeded} of ${results.length} operations (${share}%) succeed with Swagger UI's defaults\n`,
  );
}
process.exitCode = succeeded === results.length ? 0 : 1;
