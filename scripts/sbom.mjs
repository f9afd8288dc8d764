// The software bill of materials (ASVS V14.2.5): a CycloneDX SBOM of the production dependencies, written by
// npm itself (`npm sbom --sbom-format cyclonedx`), then checked: every runtime dependency of package.json is
// listed at the version package-lock.json locks it to, so a stale or partial install cannot ship a wrong
// inventory. Run by .ci/run; keep the file with each release.
// Not `--omit dev`: npm 11.19 then also drops production packages that a dev dependency reaches too (here 11
// of the 45 direct ones, @nestjs/common and rxjs among them; npm/cli#7909). So npm lists the whole tree and
// the packages package-lock.json marks `dev` (needed by development only) are taken out here.
// Usage: `npm run sbom` (writes dist/sbom.cdx.json), or `node scripts/sbom.mjs --out FILE [--lockfile FILE]`.
// Exit 0: written and complete; exit 1: npm could not write it, or components are missing or differ (listed).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const out = resolve(option('--out', 'dist/sbom.cdx.json'));

const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const lock = JSON.parse(readFileSync(option('--lockfile', 'package-lock.json'), 'utf8'));

let text;
try {
  text = execFileSync('npm', ['sbom', '--sbom-format', 'cyclonedx'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
} catch (error) {
  // npm refuses (ESBOMPROBLEMS) when node_modules does not match the lockfile: `npm ci` first.
  console.log(`npm sbom failed: ${(error.stderr || error.message).trim()}`);
  process.exit(1);
}
const sbom = JSON.parse(text);
// name@version of every package installed for production (one may sit at several paths, some only for dev).
const production = new Set(
  Object.entries(lock.packages)
    .filter(([path, entry]) => path && !entry.dev && !entry.link)
    .map(
      ([path, entry]) =>
        `${entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 13)}@${entry.version}`,
    ),
);
const kept = (ref) => ref === sbom.metadata.component['bom-ref'] || production.has(ref);
sbom.components = sbom.components.filter((c) => production.has(`${c.name}@${c.version}`));
sbom.dependencies = sbom.dependencies
  .filter((d) => kept(d.ref))
  .map((d) => ({ ...d, dependsOn: d.dependsOn.filter(kept) }));
// npm names the root after its folder (a checkout directory); the package's own name is the right one.
sbom.metadata.component.name = manifest.name;

const listed = new Map(sbom.components.map((c) => [c.name, c.version]));
const problems = [];
for (const name of Object.keys(manifest.dependencies ?? {})) {
  const locked = lock.packages[`node_modules/${name}`]?.version;
  const version = listed.get(name);
  if (!version) {
    problems.push(`${name}: not in the SBOM`);
  } else if (version !== locked) {
    problems.push(`${name}: ${version} in the SBOM, ${locked} in package-lock.json`);
  }
}

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(sbom, null, 2)}\n`);
for (const problem of problems) {
  console.log(problem);
}
console.log(
  `${out}: CycloneDX ${sbom.specVersion}, ${sbom.components.length} components; ${problems.length} problem(s)`,
);
process.exit(problems.length ? 1 : 0);
