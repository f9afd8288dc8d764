// The CI supply-chain gate: `npm audit --omit=dev` must report no high or critical advisory, except those
// documented in .ci/audit-exceptions.json as { "<advisory id>": "why it does not apply" }.
// Usage: `node scripts/audit-check.mjs` (runs npm audit), or `--report FILE` to judge a saved
// `npm audit --json` report. Exit 0: clean, or the audit service could not be reached (said so, not
// counted); exit 1: advisories without an exception, each listed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const reportFile = args.includes('--report') ? args[args.indexOf('--report') + 1] : undefined;
const exceptionsFile = args.includes('--exceptions')
  ? args[args.indexOf('--exceptions') + 1]
  : '.ci/audit-exceptions.json';

function runAudit() {
  try {
    return execFileSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    // npm audit exits 1 when it finds anything; the report is still on stdout.
    return error.stdout || '{}';
  }
}

const report = JSON.parse((reportFile ? readFileSync(reportFile, 'utf8') : runAudit()) || '{}');
if (report.statusCode || report.error || !report.metadata) {
  const why = report.message || report.error?.summary || 'no report';
  console.log(`npm audit unavailable here (${why}): not counted`);
  process.exit(0);
}
if (!existsSync(exceptionsFile)) {
  // A missing file would silently mean "no exceptions": say where the documented ones are expected.
  console.log(`${exceptionsFile} is missing: it lists the accepted advisories, {} for none`);
  process.exit(1);
}
const exceptions = JSON.parse(readFileSync(exceptionsFile, 'utf8'));
const serious = Object.values(report.vulnerabilities ?? {})
  .filter((v) => v.severity === 'high' || v.severity === 'critical')
  // `via` holds advisories (objects) and the names of vulnerable dependencies (strings): the advisories
  // are reported where they are, once.
  .flatMap((v) =>
    v.via
      .filter((via) => typeof via === 'object' && (via.severity === 'high' || via.severity === 'critical'))
      .map((via) => ({ name: v.name, id: String(via.source), title: via.title, severity: via.severity })),
  )
  .filter((v) => !(v.id in exceptions));
for (const v of serious) {
  console.log(`${v.name}: ${v.title} (${v.severity}, advisory ${v.id})`);
}
const excepted = Object.keys(exceptions).length;
console.log(
  `npm audit: ${report.metadata.dependencies?.prod ?? '?'} production dependencies, ` +
    `${serious.length} high/critical advisories without a documented exception (${excepted} documented)`,
);
process.exit(serious.length > 0 ? 1 : 0);
