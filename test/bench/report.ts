import type { LoadSample } from 'test/bench/load';

export interface HttpRow {
  scenario: string;
  contender: string;
  sample: LoadSample;
}

export interface TimedRow {
  contender: string;
  /** Median seconds. */
  seconds: number;
  /** Median idle RSS in MB (cold start only). */
  rss?: number;
  detail?: string;
}

export interface Target {
  what: string;
  goal: string;
  measured: number | undefined;
  /** `measured` meets the goal when it is at least (`min`) or at most (`max`) this. */
  min?: number;
  max?: number;
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || Number.isNaN(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !b || Number.isNaN(a) || Number.isNaN(b)
    ? '–'
    : `${(a / b).toFixed(2)}×`;

/** The HTTP table: one row per scenario and contender, with ratios to raw and to the peer (req/s). */
export function httpTable(rows: HttpRow[]): string {
  const lines = [
    '| scenario | contender | req/s | p50 ms | p99 ms | RSS MB | server CPU µs/req | × raw | × peer | failed requests |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const same = (name: string) =>
      rows.find((r) => r.scenario === row.scenario && r.contender === name)?.sample.rps;
    const s = row.sample;
    lines.push(
      `| ${row.scenario} | ${row.contender} | ${fmt(s.rps, s.rps < 10 ? 1 : 0)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${fmt(s.rss)} | ${fmt(s.cpuUs)} | ${ratio(s.rps, same('raw'))} | ${ratio(s.rps, same('peer'))} | ${s.failures} |`,
    );
  }
  return lines.join('\n');
}

export function jobsTable(rows: TimedRow[], jobs: number): string {
  const raw = rows.find((r) => r.contender === 'raw-bullmq')?.seconds;
  return [
    `| jobs (${jobs.toLocaleString('en-US')} enqueued + processed, concurrency 20) | seconds | jobs/s | × raw bullmq (throughput) |`,
    '|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.contender}${r.detail ? ` (${r.detail})` : ''} | ${fmt(r.seconds, 2)} | ${fmt(jobs / r.seconds)} | ${ratio(raw, r.seconds)} |`,
    ),
  ].join('\n');
}

export function coldStartTable(rows: TimedRow[]): string {
  const bare = rows.find((r) => r.contender === 'bare-nest');
  return [
    '| app | cold start to first 200 (s) | idle RSS MB | start × bare Nest | RSS × bare Nest |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.contender}${r.detail ? ` (${r.detail})` : ''} | ${fmt(r.seconds, 2)} | ${fmt(r.rss)} | ${ratio(r.seconds, bare?.seconds)} | ${ratio(r.rss, bare?.rss)} |`,
    ),
  ].join('\n');
}

export function targetsTable(targets: Target[]): string {
  return [
    '| target | goal | measured | |',
    '|---|---|---:|---|',
    ...targets.map((t) => {
      const met =
        t.measured === undefined || Number.isNaN(t.measured)
          ? 'not run'
          : (t.min === undefined || t.measured >= t.min) && (t.max === undefined || t.measured <= t.max)
            ? 'met'
            : 'MISSED';
      return `| ${t.what} | ${t.goal} | ${t.measured === undefined ? '–' : `${t.measured.toFixed(2)}×`} | ${met} |`;
    }),
  ].join('\n');
}
