import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from 'test/support/processes';

/**
 * The benchmark harness runs end to end on a tiny size: it exits 0, prints a table naming every contender and
 * writes a results file. Timings are never asserted (benchmarks do not fail CI on speed).
 */
describe('npm run bench (smoke)', () => {
  let out: string;
  let before: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'nestor-bench-'));
    // Results from another machine, which this run replaces as latest.md.
    writeFileSync(
      join(out, 'latest.md'),
      '# Nestor benchmark\n\n## Machine\n\n- CPU: Z80 × 1; memory 0.1 GiB\n',
    );
    // A second build for --before, as a contributor makes one: a copy of dist/ inside the checkout.
    expect(
      spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-build.mjs'), 'server'], { cwd: ROOT })
        .status,
    ).toBe(0);
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    before = mkdtempSync(join(ROOT, '.tmp', 'bench-smoke-before-'));
    cpSync(join(ROOT, 'dist'), join(before, 'dist'), { recursive: true });
  });

  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(before, { recursive: true, force: true });
  });

  it('runs every contender and scenario kind on 200 rows (--quick) and writes the report', async () => {
    const args = [
      join(ROOT, 'test', 'bench', 'bench.mjs'),
      '--quick',
      ...['--rows', '200', '--duration', '1', '--warmup', '0', '--connections', '4', '--jobs', '200'],
      '--only',
      'get-by-id,get-by-id-304,list,list-include,graphql-list-include,create,cached-get-by-id,limited-get-by-id,jobs,jobs-each',
      ...['--out', out, '--before', join(before, 'dist')],
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    expect(output).toContain('raw and nestor answer byte-identically');
    expect(output).toContain('equivalent-raw answers as nestor does');
    expect(output).toContain("nestor's GraphQL list answers its REST list + include");
    // Rows of the Markdown table (Prettier pads the cells); `failed` is the last cell.
    const row = (scenario: string, contender: string, failed = '\\d+') =>
      new RegExp(
        `\\|\\s*${scenario.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s*\\|\\s*${contender}\\s*\\|[^\\n]*\\|\\s*${failed}\\s*\\|\\n`,
      );
    for (const contender of [
      'raw',
      'equivalent-raw',
      'nest-handwritten',
      'peer',
      'nestor',
      'nestor-before',
    ]) {
      expect(output).toMatch(row('GET /api/products/:id', contender, '0'));
      expect(output).toMatch(row('POST /api/products (validated)', contender, '0'));
    }
    for (const contender of ['raw', 'nest-handwritten', 'peer', 'nestor']) {
      expect(output).toMatch(row('list filtered+sorted+counted', contender, '0'));
    }
    expect(output).toMatch(row('GraphQL list + category', 'nestor', '0'));
    for (const contender of ['equivalent-raw', 'nestor']) {
      expect(output).toMatch(row('GET /api/products/:id, If-None-Match → 304', contender, '0'));
    }
    for (const contender of ['raw', 'nestor', 'nestor-cached']) {
      expect(output).toMatch(row('cached GET /api/products/:id (100 ids)', contender, '0'));
    }
    for (const contender of ['raw', 'nestor', 'nestor-limited']) {
      expect(output).toMatch(row('GET /api/products/:id, request budgets on', contender, '0'));
    }
    expect(output).toMatch(
      /Request budgets \(limited-get-by-id\): nestor-limited made [\d,]+ req\/s at \d+ server CPU µs\/req, nestor \(budgets off\) [\d,]+ at \d+: counting in Redis costs -?\d+ µs/,
    );
    expect(output).toContain('Deep pages (offset vs cursor at 1M rows) were skipped');

    const files = readdirSync(out).filter((f) => f.endsWith('.md'));
    expect(files).toEqual(expect.arrayContaining(['latest.md']));
    expect(files.some((f) => /^\d{4}-\d{2}-\d{2}/.test(f))).toBe(true);
    const report = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(report).toContain('## Machine');
    // What the machine did during the run: the load sampled throughout, and a speed probe before each of
    // the 8 HTTP scenarios, before the jobs and at the end.
    expect(report).toMatch(
      /- 1-minute load average sampled every 2 s during the run .*: median [\d.]+, highest [\d.]+\n/,
    );
    expect(report).toMatch(
      /- Machine speed: .* \(10 probes\): fastest [\d.]+ ms \([\w -]+\), slowest [\d.]+ ms \([\w -]+\), \d+ % apart/,
    );
    expect(report).toContain(
      '- **Another CPU than the results this run replaces** (Z80 × 1): compare its ratios with theirs',
    );
    // Both builds run as `npm start` runs them: bundled.
    expect(report).toContain('- **nestor**: `node dist/bundle/launch.js main`');
    expect(report).toContain(
      `- **nestor-before**: another build of Nestor (\`${join(before, 'dist', 'bundle', 'launch.js')} main\`)`,
    );
    // Each variant that ran has its contender line.
    expect(report).toContain(
      '- **nestor-cached** (cached scenarios only): nestor with its resource cache on',
    );
    expect(report).toContain('- **nestor-limited** (limited-get-by-id only): nestor with production');
    // Nestor ran with its production logging, and the contender lines say so.
    expect(report).toContain('LOG_LEVEL=unset (the production default, info): one JSON line per request');
    for (const jobs of [
      'raw-bullmq',
      'nestor',
      'nestor-before',
      'raw-bullmq-each',
      'nestor-each',
      'nestor-before-each',
    ]) {
      expect(report).toMatch(new RegExp(`\\|\\s*${jobs}\\s*\\|\\s*(bulk|one call per job)\\s*\\|`));
    }
    expect(report).toMatch(/`enqueueMany` runs the 200 jobs [\d.]+× as fast as one `enqueue` per job/);
    // The copy of the --before build the jobs ran on goes with the run.
    expect(existsSync(join(ROOT, '.tmp', 'bench', 'before'))).toBe(false);
    // GraphQL beside REST for nestor: req/s over REST's, by CPU, and over raw's REST.
    expect(report).toMatch(
      /\| GraphQL list \+ category\s*\| list \+ include=category\s*\| nestor\s*\|([^|]*\|){4}(\s*[\d.]+×\s*\|){3}\n/,
    );
    // Where each contender's requests and jobs spent CPU: its own process, PostgreSQL and Redis.
    const cells = (first: string, second: string) => {
      const line = report
        .split('\n')
        .find((l) => l.split('|').map((c) => c.trim())[1] === first && l.split('|')[2]?.trim() === second);
      return line?.split('|').map((c) => c.trim());
    };
    expect(report).toMatch(/\| server CPU µs\/req\s*\| PostgreSQL CPU µs\/req\s*\| Redis CPU µs\/req\s*\|/);
    for (const contender of ['raw', 'nestor']) {
      // A list's count and page are PostgreSQL's work, for every contender.
      const [, , , , , , , server, postgres, redis] = cells('list filtered+sorted+counted', contender)!;
      expect({ contender, server, postgres }).toEqual({
        contender,
        server: expect.stringMatching(/^[1-9][\d,]*$/),
        postgres: expect.stringMatching(/^[1-9][\d,]*$/),
      });
      expect(redis).toMatch(/^[\d,]+$/);
    }
    expect(report).toMatch(/\| process CPU µs\/job\s*\| PostgreSQL CPU µs\/job\s*\| Redis CPU µs\/job\s*\|/);
    for (const contender of ['raw-bullmq', 'nestor']) {
      // Measured, not left out (200 jobs may cost PostgreSQL or Redis less than the 10 ms /proc counts in).
      expect(cells(contender, 'bulk')?.slice(6, 9)).toEqual([
        expect.stringMatching(/^[1-9][\d,]*$/),
        expect.stringMatching(/^[\d,]+$/),
        expect.stringMatching(/^[\d,]+$/),
      ]);
    }
    expect(report).toContain('## Targets (issue 23)');
    // Each req/s target beside its ratio by the server's CPU and by the CPU of server, PostgreSQL and Redis.
    expect(report).toMatch(
      /\| create req\/s vs equivalent raw\s*\|[^|]*\|\s*[\d.]+×\s*\|\s*[\d.]+×\s*\|\s*[\d.]+×\s*\|/,
    );
    expect(report).toMatch(
      /\| jobs throughput vs raw bullmq\s*\|[^|]*\|\s*[\d.]+×\s*\|\s*[\d.]+×\s*\|\s*[\d.]+×\s*\|/,
    );
  }, 300_000);
});
