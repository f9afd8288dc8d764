import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from 'test/support/processes';

const INTEGRITY = `sha512-${'A'.repeat(86)}==`;

/** A lockfile entry as npm writes it for a registry package. */
const registry = (name: string, version: string, extra: object = {}) => ({
  version,
  resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${version}.tgz`,
  integrity: INTEGRITY,
  ...extra,
});

/**
 * The CI provenance gate (scripts/supply-chain-check.mjs, run by .ci/run) judged on small lockfiles: where
 * packages come from, their hashes, the install-script allow-list and `npm audit signatures` outcomes.
 */
describe('CI supply-chain gate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-supply-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function gate(
    packages: Record<string, object>,
    allowScripts: Record<string, boolean> = {},
    signatures?: { status: number; stdout: string; stderr?: string },
  ): { status: number | null; output: string } {
    const name = Math.random().toString(36).slice(2);
    const lockfile = join(dir, `${name}.lock.json`);
    const manifest = join(dir, `${name}.package.json`);
    writeFileSync(lockfile, JSON.stringify({ lockfileVersion: 3, packages: { '': {}, ...packages } }));
    writeFileSync(manifest, JSON.stringify({ name: 'app', allowScripts }));
    const args = [
      join(ROOT, 'scripts', 'supply-chain-check.mjs'),
      '--lockfile',
      lockfile,
      '--package',
      manifest,
    ];
    if (signatures) {
      writeFileSync(`${lockfile}.sig`, JSON.stringify(signatures));
      args.push('--signatures-report', `${lockfile}.sig`);
    } else {
      args.push('--no-signatures');
    }
    const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
    return { status: result.status, output: result.stdout + result.stderr };
  }

  const clean = {
    'node_modules/left-pad': registry('left-pad', '1.3.0'),
    'node_modules/@scope/native': registry('@scope/native', '2.0.1', { hasInstallScript: true }),
    'node_modules/telemetry': registry('telemetry', '1.0.0', { hasInstallScript: true }),
  };
  const decided = { '@scope/native@2.0.1': true, telemetry: false };

  it("passes this repository's own lockfile and allow-list", () => {
    const result = spawnSync(
      process.execPath,
      [join(ROOT, 'scripts', 'supply-chain-check.mjs'), '--no-signatures'],
      {
        encoding: 'utf8',
      },
    );
    expect(result.stdout).toMatch(/0 problem\(s\)/);
    expect(result.status).toBe(0);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string }>;
    };
    expect(Object.keys(lock.packages).length).toBeGreaterThan(500);
  });

  it('--fill-resolved writes the registry URL npm omitted, so the gate passes again', () => {
    const lockfile = join(dir, 'fill.lock.json');
    const { resolved: _r, ...bare } = registry('@scope/native', '2.0.1');
    writeFileSync(
      lockfile,
      JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/@scope/native': bare } }),
    );
    const script = join(ROOT, 'scripts', 'supply-chain-check.mjs');
    spawnSync(process.execPath, [script, '--lockfile', lockfile, '--fill-resolved'], { encoding: 'utf8' });
    const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as {
      packages: Record<string, { resolved?: string }>;
    };
    expect(lock.packages['node_modules/@scope/native'].resolved).toBe(
      'https://registry.npmjs.org/@scope/native/-/native-2.0.1.tgz',
    );
  });

  it('passes registry tarballs with sha512 hashes whose install scripts are all decided', () => {
    expect(gate(clean, decided)).toEqual({
      status: 0,
      output: expect.stringContaining('0 problem(s)') as string,
    });
  });

  it.each([
    [
      'a git dependency',
      { resolved: 'git+ssh://git@example.com/x.git#abc' },
      /is not a https:\/\/registry\.npmjs\.org\/ tarball/,
    ],
    [
      'another registry',
      { resolved: 'https://npm.evil.example/left-pad/-/left-pad-1.3.0.tgz' },
      /is not a https/,
    ],
    ['no resolved URL', { resolved: undefined }, /resolved null/],
    ['no integrity', { integrity: undefined }, /integrity null is not a sha512 hash/],
    ['a sha1 integrity', { integrity: 'sha1-deadbeef' }, /is not a sha512 hash/],
  ])('fails %s', (_name, change, message) => {
    const { status, output } = gate(
      { ...clean, 'node_modules/left-pad': { ...clean['node_modules/left-pad'], ...change } },
      decided,
    );
    expect(status).toBe(1);
    expect(output).toMatch(message);
  });

  it('fails an install script nobody decided on, an unpinned approval, an outdated pin and a stale decision', () => {
    expect(gate(clean, { telemetry: false }).output).toContain(
      '@scope/native@2.0.1 has an install script and no allowScripts decision',
    );
    expect(gate(clean, { '@scope/native': true, telemetry: false }).output).toContain(
      'approve a pinned version (@scope/native@2.0.1)',
    );
    const outdated = gate(clean, { '@scope/native@1.9.0': true, telemetry: false });
    expect(outdated.status).toBe(1);
    expect(outdated.output).toContain('"@scope/native@1.9.0" matches no locked package');
    expect(gate(clean, { ...decided, 'gone-pkg': false }).output).toContain(
      '"gone-pkg" matches no locked package',
    );
  });

  it('fails invalid or missing registry signatures, and says when npm audit signatures cannot run here', () => {
    const bad = gate(clean, decided, {
      status: 1,
      stdout: JSON.stringify({ invalid: [{ name: 'left-pad', version: '1.3.0' }], missing: [] }),
    });
    expect(bad.status).toBe(1);
    expect(bad.output).toContain('left-pad@1.3.0: registry signature invalid');
    expect(gate(clean, decided, { status: 0, stdout: '{"invalid":[],"missing":[]}' }).output).toContain(
      'signatures verified',
    );
    const offline = gate(clean, decided, {
      status: 1,
      stdout: '',
      stderr:
        'npm error code ENOTFOUND\nnpm error network request to https://tuf-repo-cdn.sigstore.dev/15.root.json failed',
    });
    expect(offline).toEqual({
      status: 0,
      output: expect.stringContaining('signatures unavailable here (ENOTFOUND): not counted') as string,
    });
  });
});

/**
 * The SBOM (ASVS V14.2.5): scripts/sbom.mjs, run by .ci/run, writes a CycloneDX document of the production
 * dependencies with `npm sbom` and checks it against package.json and package-lock.json.
 */
describe('CI SBOM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-sbom-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  interface Lock {
    packages: Record<string, { version: string }>;
  }
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;

  function sbom(out: string, ...args: string[]): { status: number | null; output: string } {
    const script = join(ROOT, 'scripts', 'sbom.mjs');
    const result = spawnSync(process.execPath, [script, '--out', out, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return { status: result.status, output: result.stdout + result.stderr };
  }

  it('lists every runtime dependency at its locked version, and no development-only package', () => {
    const out = join(dir, 'sbom.cdx.json');
    const result = sbom(out);
    expect(result.output).toMatch(/CycloneDX 1\.\d+, \d+ components; 0 problem\(s\)/);
    expect(result.status).toBe(0);
    const document = JSON.parse(readFileSync(out, 'utf8')) as {
      bomFormat: string;
      metadata: { component: { name: string } };
      components: { name: string; version: string; purl: string; hashes?: { alg: string }[] }[];
    };
    expect(document.bomFormat).toBe('CycloneDX');
    expect(document.metadata.component.name).toBe(manifest.name);
    const listed = new Set(document.components.map((c) => `${c.name}@${c.version}`));
    const runtime = Object.keys(manifest.dependencies);
    expect(runtime.length).toBeGreaterThan(40);
    for (const name of runtime) {
      expect(listed).toContain(`${name}@${lock.packages[`node_modules/${name}`].version}`);
    }
    // Tools of development only (npm 11's own --omit dev dropped @nestjs/common and rxjs instead).
    for (const name of ['jest', 'eslint', 'prettier', 'vite', 'react-admin', '@nestjs/testing']) {
      expect(manifest.devDependencies[name]).toBeDefined();
      expect(document.components.map((c) => c.name)).not.toContain(name);
    }
    const rxjs = document.components.find((c) => c.name === 'rxjs');
    expect(rxjs?.purl).toBe(`pkg:npm/rxjs@${lock.packages['node_modules/rxjs'].version}`);
    expect(rxjs?.hashes?.[0]?.alg).toBe('SHA-512');
  });

  it('fails when the installed tree and the lockfile disagree', () => {
    const stale = structuredClone(lock);
    stale.packages['node_modules/rxjs'].version = '7.0.0';
    const lockfile = join(dir, 'stale.lock.json');
    writeFileSync(lockfile, JSON.stringify(stale));
    const result = sbom(join(dir, 'stale.cdx.json'), '--lockfile', lockfile);
    expect(result.status).toBe(1);
    expect(result.output).toContain('rxjs: not in the SBOM');
    expect(result.output).toMatch(/1 problem\(s\)/);
  });
});
