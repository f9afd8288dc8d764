import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from 'test/support/processes';

/**
 * The benchmark harness runs end to end on a tiny size: it exits 0, prints a table naming every contender and
 * writes a results file. Timings are never asserted (benchmarks do not fail CI on speed).
 */
describe('npm run bench (smoke)', () => {
  let out: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'nestor-bench-'));
  });

  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('runs every contender on 200 rows and writes the report', async () => {
    const args = [
      join(ROOT, 'test', 'bench', 'bench.mjs'),
      ...['--rows', '200', '--duration', '1', '--runs', '1', '--warmup', '0', '--connections', '4'],
      ...['--only', 'get-by-id,list', '--out', out],
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    expect(output).toContain('raw and nestor answer byte-identically');
    // Rows of the Markdown table (Prettier pads the cells).
    const row = (scenario: string, contender: string) =>
      new RegExp(`\\|\\s*${scenario.replace(/[/+]/g, '\\$&')}\\s*\\|\\s*${contender}\\s*\\|`);
    for (const contender of ['raw', 'nest-handwritten', 'peer', 'nestor']) {
      expect(output).toMatch(row('GET /api/products/:id', contender));
      expect(output).toMatch(row('list filtered+sorted+counted', contender));
    }
    expect(output).toContain('Deep pages (offset vs cursor at 1M rows) were skipped');

    const files = readdirSync(out).filter((f) => f.endsWith('.md'));
    expect(files).toEqual(expect.arrayContaining(['latest.md']));
    expect(files.some((f) => /^\d{4}-\d{2}-\d{2}/.test(f))).toBe(true);
    const report = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(report).toContain('## Machine');
    expect(report).toContain('## Targets (issue 8)');
  }, 120_000);
});
