import type { LoadSample } from 'test/bench/load';
import { GRAPHQL_SCENARIOS, HTTP_SCENARIOS } from 'test/bench/scenarios';

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
  /** Cold start: median CPU seconds (user + system) of the process until its first 200. */
  cpuSeconds?: number;
  /** Jobs: median CPU µs per job of the contender's process (not Redis's or PostgreSQL's). */
  cpuUs?: number;
  /** Jobs: median CPU µs per job of the PostgreSQL and Redis servers. */
  postgresUs?: number;
  redisUs?: number;
  /** Jobs: how they were enqueued (`bulk`, `one call per job`). */
  enqueue?: string;
  detail?: string;
}

export interface Target {
  what: string;
  goal: string;
  measured: number | undefined;
  /** `measured` meets the goal when it is at least (`min`) or at most (`max`) this. */
  min?: number;
  max?: number;
  /**
   * For a req/s ratio: the same ratio from the server's CPU time per request (the baseline's µs over
   * nestor's), which a busy machine disturbs far less than req/s.
   */
  byCpu?: number;
  /**
   * The same from all the CPU a request (or job) cost: the server's plus PostgreSQL's and Redis's. A contender
   * that moves work into the database, or waits on it, shows here what `byCpu` hides.
   */
  byTotalCpu?: number;
}

/** All the CPU µs a request or job cost: the contender's process, PostgreSQL and Redis. */
const totalCpuUs = (s: { cpuUs?: number; postgresUs?: number; redisUs?: number }): number =>
  (s.cpuUs ?? NaN) + (s.postgresUs ?? NaN) + (s.redisUs ?? NaN);

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || Number.isNaN(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !b || Number.isNaN(a) || Number.isNaN(b)
    ? '–'
    : `${(a / b).toFixed(2)}×`;

/**
 * The HTTP table: one row per scenario and contender, with req/s ratios to raw (the price of the features and
 * the framework), to equivalent-raw (the price of the framework alone) and to the peer.
 */
export function httpTable(rows: HttpRow[]): string {
  const lines = [
    '| scenario | contender | req/s | p50 ms | p99 ms | RSS MB | server CPU µs/req | PostgreSQL CPU µs/req | Redis CPU µs/req | × raw | × equivalent raw | × peer | failed requests |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const same = (name: string) =>
      rows.find((r) => r.scenario === row.scenario && r.contender === name)?.sample.rps;
    const s = row.sample;
    lines.push(
      `| ${row.scenario} | ${row.contender} | ${fmt(s.rps, s.rps < 10 ? 1 : 0)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${fmt(s.rss)} | ${fmt(s.cpuUs)} | ${fmt(s.postgresUs)} | ${fmt(s.redisUs)} | ${ratio(s.rps, same('raw'))} | ${ratio(s.rps, same('equivalent-raw'))} | ${ratio(s.rps, same('peer'))} | ${s.failures} |`,
    );
  }
  return [
    ...lines,
    '',
    "Server CPU: the contender's process during each measured run, divided by its requests; PostgreSQL's and Redis's: what those local servers used meanwhile (every process of each), divided the same way. The benchmark runs alone on the machine, so their work is the contender's.",
  ].join('\n');
}

/**
 * The GraphQL section: each GraphQL scenario beside the REST scenario answering the same data (checked before
 * the run), per contender that ran both: GraphQL's req/s over REST's, the same from the server's CPU µs per
 * request, and GraphQL's req/s over raw's hand-written REST (the floor).
 */
export function graphqlTable(rows: HttpRow[]): string {
  const find = (scenario: string, contender: string) =>
    rows.find((r) => r.scenario === scenario && r.contender === contender)?.sample;
  const lines: string[] = [];
  for (const pair of GRAPHQL_SCENARIOS) {
    const [graphql, rest] = [HTTP_SCENARIOS[pair.graphql], HTTP_SCENARIOS[pair.rest]];
    const raw = find(rest, 'raw');
    for (const row of rows.filter((r) => r.scenario === graphql)) {
      const g = row.sample;
      const r = find(rest, row.contender);
      const cpu = r && g.cpuUs ? ratio(r.cpuUs, g.cpuUs) : '–';
      lines.push(
        `| ${graphql} | ${rest} | ${row.contender} | ${fmt(g.rps)} | ${fmt(g.p50, 1)} / ${fmt(g.p99, 1)} | ${fmt(r?.rps)} | ${r ? `${fmt(r.p50, 1)} / ${fmt(r.p99, 1)}` : '–'} | ${ratio(g.rps, r?.rps)} | ${cpu} | ${ratio(g.rps, raw?.rps)} |`,
      );
    }
  }
  return lines.length
    ? [
        'Nestor is the only contender that speaks GraphQL; each query asks for the same page, fields and relation as the REST scenario beside it (the harness checks both answer the same rows, count and cursor).',
        '',
        '| GraphQL scenario | REST scenario | contender | GraphQL req/s | GraphQL p50 / p99 ms | REST req/s | REST p50 / p99 ms | GraphQL ÷ REST req/s | ÷ REST by CPU µs/req | GraphQL ÷ raw REST req/s |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
        ...lines,
      ].join('\n')
    : `Not measured in this run: ${GRAPHQL_SCENARIOS.map((p) => p.graphql).join(', ')} (left out by \`--only\`).`;
}

/**
 * The jobs table (throughput against raw bullmq enqueueing the same way), and how much faster Nestor's enqueueMany is than
 * one enqueue per job when both ran.
 */
export function jobsTable(rows: TimedRow[], jobs: number): string {
  const seconds = (name: string) => rows.find((r) => r.contender === name)?.seconds;
  // Each row against raw bullmq enqueueing the same way (addBulk, or one add per job).
  const raw = (r: TimedRow) => seconds(r.enqueue === 'bulk' ? 'raw-bullmq' : 'raw-bullmq-each');
  const bulk = seconds('nestor');
  const each = seconds('nestor-each');
  return [
    `| jobs (${jobs.toLocaleString('en-US')} enqueued + processed, concurrency 20, chunks of 1,000) | enqueued | seconds | jobs/s | × raw bullmq enqueueing alike (throughput) | process CPU µs/job | PostgreSQL CPU µs/job | Redis CPU µs/job |`,
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.contender}${r.detail ? ` (${r.detail})` : ''} | ${r.enqueue ?? ''} | ${fmt(r.seconds, 2)} | ${fmt(jobs / r.seconds)} | ${ratio(raw(r), r.seconds)} | ${fmt(r.cpuUs)} | ${fmt(r.postgresUs)} | ${fmt(r.redisUs)} |`,
    ),
    '',
    "Process CPU: the contender's own from its first enqueue to its last job done (each enqueues and runs its jobs in one process); PostgreSQL's and Redis's: what those servers used meanwhile.",
    ...(bulk !== undefined && each !== undefined
      ? [
          '',
          `Nestor's \`enqueueMany\` runs the ${jobs.toLocaleString('en-US')} jobs ${ratio(each, bulk)} as fast as one \`enqueue\` per job.`,
        ]
      : []),
  ].join('\n');
}

export function coldStartTable(rows: TimedRow[]): string {
  const bare = rows.find((r) => r.contender === 'bare-nest');
  return [
    '| app | cold start to first 200 (s) | CPU to first 200 (s) | idle RSS MB | start × bare Nest | CPU × bare Nest | RSS × bare Nest |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.contender}${r.detail ? ` (${r.detail})` : ''} | ${fmt(r.seconds, 2)} | ${fmt(r.cpuSeconds, 2)} | ${fmt(r.rss)} | ${ratio(r.seconds, bare?.seconds)} | ${ratio(r.cpuSeconds, bare?.cpuSeconds)} | ${ratio(r.rss, bare?.rss)} |`,
    ),
  ].join('\n');
}

export function targetsTable(targets: Target[]): string {
  return [
    '| target | goal | measured | by server CPU µs/req | by server + PostgreSQL + Redis CPU µs/req | |',
    '|---|---|---:|---:|---:|---|',
    ...targets.map((t) => {
      const met =
        t.measured === undefined || Number.isNaN(t.measured)
          ? 'not run'
          : (t.min === undefined || t.measured >= t.min) && (t.max === undefined || t.measured <= t.max)
            ? 'met'
            : 'MISSED';
      const times = (n: number | undefined) =>
        n === undefined || Number.isNaN(n) ? '–' : `${n.toFixed(2)}×`;
      return `| ${t.what} | ${t.goal} | ${times(t.measured)} | ${times(t.byCpu)} | ${times(t.byTotalCpu)} | ${met} |`;
    }),
    '',
    "By CPU: the baseline's CPU µs per request (per job, for jobs) over nestor's, from the server's process alone, then from all three. Met or missed is judged on the measured ratio; the CPU ratios show how much of it a busy machine or a waiting database made.",
  ].join('\n');
}

const GET = HTTP_SCENARIOS['get-by-id'];
const LIST = HTTP_SCENARIOS.list;
const INCLUDE = HTTP_SCENARIOS['list-include'];
const CREATE = HTTP_SCENARIOS.create;

/** Issue 23's targets (and issue 8's deep-page one), measured on the rows of one run. */
export function targets(http: HttpRow[], jobs: TimedRow[], cold: TimedRow[]): Target[] {
  const sample = (scenario: string, contender: string) =>
    http.find((r) => r.scenario === scenario && r.contender === contender)?.sample;
  const div = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || !b ? undefined : a / b;
  const rps = (scenario: string, a: string, b: string) =>
    div(sample(scenario, a)?.rps, sample(scenario, b)?.rps);
  const cpu = (scenario: string, a: string, b: string) =>
    div(sample(scenario, b)?.cpuUs, sample(scenario, a)?.cpuUs);
  const total = (row: { cpuUs?: number } | undefined) => (row ? totalCpuUs(row) : undefined);
  /** A req/s target of nestor against `base`, with its CPU twin. */
  const versus = (what: string, goal: string, min: number, scenario: string, base: string): Target => ({
    what,
    goal,
    min,
    measured: rps(scenario, 'nestor', base),
    byCpu: cpu(scenario, 'nestor', base),
    byTotalCpu: div(total(sample(scenario, base)), total(sample(scenario, 'nestor'))),
  });
  const nestorCold = cold.find((r) => r.contender === 'nestor');
  const bareCold = cold.find((r) => r.contender === 'bare-nest');
  const [rawJobs, nestorJobs] = ['raw-bullmq', 'nestor'].map((name) =>
    jobs.find((r) => r.contender === name),
  );
  const deep = http.filter((r) => r.contender === 'nestor' && r.scenario.startsWith('deep'));
  return [
    versus('create req/s vs peer', '≥ 1.5×', 1.5, CREATE, 'peer'),
    versus('create req/s vs equivalent raw', '≥ 0.75×', 0.75, CREATE, 'equivalent-raw'),
    versus('get-by-id req/s vs raw', '≥ 0.75×', 0.75, GET, 'raw'),
    {
      what: 'get-by-id p99 vs raw',
      goal: '≤ 1.5×',
      max: 1.5,
      measured: div(sample(GET, 'nestor')?.p99, sample(GET, 'raw')?.p99),
    },
    versus('get-by-id req/s vs peer', '≥ 3×', 3, GET, 'peer'),
    versus('list req/s vs raw', '≥ 0.90×', 0.9, LIST, 'raw'),
    versus('list req/s vs peer', '≥ 1.5×', 1.5, LIST, 'peer'),
    versus('list + include req/s vs raw', '≥ 0.90×', 0.9, INCLUDE, 'raw'),
    {
      what: 'jobs throughput vs raw bullmq',
      goal: '≥ 0.90×',
      min: 0.9,
      measured: div(rawJobs?.seconds, nestorJobs?.seconds),
      byCpu: div(rawJobs?.cpuUs, nestorJobs?.cpuUs),
      byTotalCpu: div(total(rawJobs), total(nestorJobs)),
    },
    {
      what: 'cold start vs bare Nest',
      goal: '≤ 2×',
      max: 2,
      measured: div(nestorCold?.seconds, bareCold?.seconds),
    },
    {
      what: 'idle RSS vs bare Nest',
      goal: '≤ 1.5×',
      max: 1.5,
      measured: div(nestorCold?.rss, bareCold?.rss),
    },
    {
      what: 'cursor deep page p50 vs page 1 (1M rows, issue 8)',
      goal: '≤ 1.2×',
      max: 1.2,
      measured: div(
        deep.find((r) => r.scenario.startsWith('deep: cursor'))?.sample.p50,
        deep.find((r) => r.scenario === 'deep: page 1')?.sample.p50,
      ),
    },
  ];
}
