import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from 'test/support/processes';

/**
 * The CI supply-chain gate (scripts/audit-check.mjs, run by .ci/run) judged on saved `npm audit --json`
 * reports: high and critical advisories fail it unless documented as exceptions.
 */
describe('CI npm audit gate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-audit-'));
  writeFileSync(join(dir, 'none.json'), '{}');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const advisory = (source: number, name: string, severity: string) => ({
    source,
    name,
    dependency: name,
    title: `${name} is vulnerable`,
    url: `https://github.com/advisories/GHSA-${source}`,
    severity,
    range: '<9.9.9',
  });
  const report = (vulnerabilities: Record<string, unknown>) => ({
    auditReportVersion: 2,
    vulnerabilities,
    metadata: { vulnerabilities: {}, dependencies: { prod: 42, dev: 0, total: 42 } },
  });
  const vulnerable = report({
    // The advisory on the package itself, and the package that depends on it (via names it, not counted twice).
    'bad-lib': { name: 'bad-lib', severity: 'high', via: [advisory(1001, 'bad-lib', 'high')] },
    'uses-bad-lib': { name: 'uses-bad-lib', severity: 'high', via: ['bad-lib'] },
    'meh-lib': { name: 'meh-lib', severity: 'moderate', via: [advisory(1002, 'meh-lib', 'moderate')] },
  });

  function gate(
    content: unknown,
    exceptions?: Record<string, string>,
  ): { status: number | null; output: string } {
    const file = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(content));
    const args = [join(ROOT, 'scripts', 'audit-check.mjs'), '--report', file];
    if (exceptions) {
      writeFileSync(`${file}.exceptions`, JSON.stringify(exceptions));
      args.push('--exceptions', `${file}.exceptions`);
    } else {
      args.push('--exceptions', join(dir, 'none.json'));
    }
    const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
    return { status: result.status, output: result.stdout + result.stderr };
  }

  it('fails on a high advisory, naming it once', () => {
    const { status, output } = gate(vulnerable);
    expect(status).toBe(1);
    expect(output).toContain('bad-lib: bad-lib is vulnerable (high, advisory 1001)');
    expect(output).not.toContain('meh-lib');
    expect(output).toContain('1 high/critical advisories without a documented exception');
  });

  it('passes when every high advisory has a documented exception', () => {
    const { status, output } = gate(vulnerable, { '1001': 'only reachable from a CLI path we never call' });
    expect(status).toBe(0);
    expect(output).toContain('0 high/critical advisories without a documented exception (1 documented)');
  });

  it('passes a clean report and says how many production dependencies it covered', () => {
    expect(gate(report({}))).toEqual({
      status: 0,
      output: expect.stringContaining('42 production dependencies, 0 high/critical') as string,
    });
  });

  it('reads the committed exceptions file: advisory ids, each with why it does not apply', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, '.ci', 'audit-exceptions.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(committed).toEqual(expect.any(Object));
    expect(Array.isArray(committed)).toBe(false);
    for (const [id, why] of Object.entries(committed)) {
      expect([id, typeof why === 'string' && why.trim().length > 10]).toEqual([id, true]);
    }
    // As .ci/run calls it: no --exceptions, from the repository root.
    const file = join(dir, 'clean.json');
    writeFileSync(file, JSON.stringify(report({})));
    const result = spawnSync(process.execPath, ['scripts/audit-check.mjs', '--report', file], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`(${Object.keys(committed).length} documented)`);
  });

  it('fails when the exceptions file is missing rather than reading it as none', () => {
    const file = join(dir, 'missing-exceptions.json');
    writeFileSync(file, JSON.stringify(report({})));
    const args = ['--report', file, '--exceptions', join(dir, 'nowhere.json')];
    const result = spawnSync(process.execPath, [join(ROOT, 'scripts', 'audit-check.mjs'), ...args], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('nowhere.json is missing');
  });

  it('reports an unreachable audit service as such instead of passing silently or failing the run', () => {
    const { status, output } = gate({ statusCode: 405, message: '405 Method Not Allowed' });
    expect(status).toBe(0);
    expect(output).toContain('npm audit unavailable here (405 Method Not Allowed): not counted');
  });
});
