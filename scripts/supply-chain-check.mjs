#!/usr/bin/env node
// Dependency provenance gate, run by .ci/run: without the registry's audit endpoint, it checks that
//  1. every package in package-lock.json comes from the npm registry (`resolved`) with a sha512 `integrity`,
//  2. every package with an install script has a decision in package.json "allowScripts" (npm 11.16+):
//     approvals pinned to the locked version (`pkg@1.2.3: true`), denials by name (`pkg: false`), and no
//     decision left for a package that no longer has one,
//  3. the registry signatures of the installed packages (`npm audit signatures`), where that command can
//     reach what it needs; where it cannot, it says so and does not count it.
// Usage: node scripts/supply-chain-check.mjs [--lockfile f] [--package f] [--signatures-report f | --no-signatures]
//        node scripts/supply-chain-check.mjs --fill-resolved   (after a merge or an npm that omitted them:
//        writes each registry package's tarball URL from its name and version; `npm ci` then verifies
//        every integrity against it)
// (--signatures-report: a saved `npm audit signatures --json` output, with its exit code as `{status}` or
// the text of a failure, for tests). Exit 0 when every check that could run passed, 1 otherwise.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REGISTRY = 'https://registry.npmjs.org/';
const SHA512 = /^sha512-[A-Za-z0-9+/]{86}==$/;
/** What `npm audit signatures` prints when it cannot reach the registry's keys or Sigstore's TUF root. */
const UNREACHABLE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|\b40[45]\b|TUF|tuf-repo|network/i;

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : args[at + 1];
};
const lockfilePath = option('--lockfile', join(ROOT, 'package-lock.json'));
const packagePath = option('--package', join(ROOT, 'package.json'));
const problems = [];

const lock = JSON.parse(readFileSync(lockfilePath, 'utf8'));
const manifest = JSON.parse(readFileSync(packagePath, 'utf8'));
if (lock.lockfileVersion < 2 || !lock.packages) {
  problems.push(
    `${lockfilePath}: lockfileVersion ${lock.lockfileVersion} has no "packages" map (npm 7+ writes one)`,
  );
}

if (args.includes('--fill-resolved')) {
  let filled = 0;
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || entry.link || entry.resolved || !entry.version) {
      continue;
    }
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    // The URL npm itself derives for a registry package; placed after "version", where npm writes it.
    const resolved = `${REGISTRY}${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
    lock.packages[path] = Object.fromEntries(
      Object.entries(entry).flatMap(([key, value]) =>
        key === 'version'
          ? [
              [key, value],
              ['resolved', resolved],
            ]
          : [[key, value]],
      ),
    );
    filled++;
  }
  writeFileSync(lockfilePath, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`filled resolved for ${filled} packages; run npm ci to verify their integrity`);
  process.exit(0);
}

/** Locked packages by install path: the root and workspace links are the project's own code. */
const locked = Object.entries(lock.packages ?? {}).filter(([path, entry]) => path !== '' && !entry.link);
const nameOf = (path, entry) =>
  entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

// 1. Provenance of every tarball.
for (const [path, entry] of locked) {
  if (typeof entry.resolved !== 'string' || !entry.resolved.startsWith(REGISTRY)) {
    problems.push(`${path}: resolved ${JSON.stringify(entry.resolved ?? null)} is not a ${REGISTRY} tarball`);
  }
  if (typeof entry.integrity !== 'string' || !SHA512.test(entry.integrity)) {
    problems.push(`${path}: integrity ${JSON.stringify(entry.integrity ?? null)} is not a sha512 hash`);
  }
}

// 2. Install scripts: each one decided, approvals pinned.
const allowScripts = manifest.allowScripts ?? {};
const decisions = new Map(
  Object.entries(allowScripts).map(([key, allowed]) => {
    const at = key.lastIndexOf('@');
    return at > 0
      ? [key, { name: key.slice(0, at), version: key.slice(at + 1), allowed }]
      : [key, { name: key, allowed }];
  }),
);
const used = new Set();
let scripted = 0;
for (const [path, entry] of locked.filter(([, e]) => e.hasInstallScript)) {
  scripted++;
  const name = nameOf(path, entry);
  const matching = [...decisions].filter(
    ([, d]) => d.name === name && (d.version === undefined || d.version === entry.version),
  );
  matching.forEach(([key]) => used.add(key));
  const denied = matching.some(([, d]) => d.allowed === false);
  const approved = matching.find(([, d]) => d.allowed === true);
  if (denied) {
    continue;
  }
  if (!approved) {
    problems.push(
      `${name}@${entry.version} has an install script and no allowScripts decision: review it, then \`npm install-scripts approve ${name}\` (pinned) or \`deny ${name}\``,
    );
  } else if (approved[1].version === undefined) {
    problems.push(
      `allowScripts "${approved[0]}": approve a pinned version (${name}@${entry.version}), so a new release is reviewed again`,
    );
  }
}
for (const key of decisions.keys()) {
  if (!used.has(key)) {
    problems.push(
      `allowScripts "${key}" matches no locked package with an install script: remove it (\`npm install-scripts prune\`)`,
    );
  }
}

// 3. Registry signatures, where npm can check them.
let signatures = 'skipped (--no-signatures)';
if (!args.includes('--no-signatures')) {
  const report = option('--signatures-report');
  const run = report
    ? JSON.parse(readFileSync(report, 'utf8'))
    : spawnSync('npm', ['audit', 'signatures', '--json'], {
        cwd: dirname(lockfilePath),
        encoding: 'utf8',
        timeout: 300_000,
      });
  const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`;
  let parsed;
  try {
    parsed = JSON.parse(run.stdout ?? '');
  } catch {
    parsed = undefined;
  }
  const invalid = [...(parsed?.invalid ?? []), ...(parsed?.missing ?? [])];
  if (run.status === 0 && parsed && invalid.length === 0) {
    signatures = 'verified';
  } else if (invalid.length > 0) {
    for (const item of invalid) {
      problems.push(
        `${item.name}@${item.version}: registry signature ${parsed.invalid?.includes(item) ? 'invalid' : 'missing'}`,
      );
    }
    signatures = `${invalid.length} invalid or missing`;
  } else if (UNREACHABLE.test(output) || run.error) {
    const reason = (output.match(UNREACHABLE)?.[0] ?? run.error?.code ?? 'unreachable').trim();
    signatures = `unavailable here (${reason}): not counted`;
  } else {
    problems.push(`npm audit signatures failed: ${output.trim().split('\n').slice(-3).join(' ')}`);
    signatures = 'failed';
  }
}

for (const problem of problems) {
  console.log(`  - ${problem}`);
}
console.log(
  `supply chain: ${locked.length} locked packages, ${scripted} with install scripts (${Object.keys(allowScripts).length} decisions); ` +
    `signatures ${signatures}; ${problems.length} problem(s)`,
);
process.exit(problems.length === 0 ? 0 : 1);
