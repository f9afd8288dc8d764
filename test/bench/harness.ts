/**
 * `npm run bench`: Nestor against raw baselines and a peer, side by side in one run (issue 8).
 * Seeds a throwaway PostgreSQL database, starts each contender as its own process on its own port, warms it,
 * loads it with autocannon at fixed connections and duration, alternating contenders run by run, and reports
 * medians as a Markdown table (printed and written to test/bench/results/<date>.md). Never fails on timing;
 * it does fail when raw's JSON is not byte-identical to Nestor's, or a contender answers a scenario wrongly.
 * Options: see `--help`.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { format, resolveConfig } from 'prettier';
import { createTestDatabase, TestDatabase } from 'src/framework/testing/test-database';
import { MachineWatch } from 'test/bench/drift';
import { LoadRequest, LoadSample, load, median, summarise } from 'test/bench/load';
import {
  IDENTITY_BODY,
  firstDifference,
  normaliseCreated,
  verifyEquivalent,
  verifyGraphqlList,
} from 'test/bench/equivalence';
import {
  BENCH_OUT,
  BenchProcess,
  DIST,
  ROOT,
  cpuSeconds,
  freePort,
  http,
  nestorCli,
  rssMb,
} from 'test/bench/processes';
import {
  HttpRow,
  TimedRow,
  coldStartTable,
  graphqlTable,
  httpTable,
  jobsTable,
  targets,
  targetsTable,
} from 'test/bench/report';
import {
  CONTENDERS,
  ContenderName,
  HOT_IDS,
  HTTP_SCENARIOS,
  GRAPHQL_LIST_INCLUDE,
  HttpScenario,
  REST_LIST_INCLUDE,
  ScenarioContext,
  Variant,
  requestFor,
  variantsOf,
} from 'test/bench/scenarios';
import { execute, queryValue, removeCreated, seedCatalog } from 'test/bench/seed';

const ALL_SCENARIOS = [
  ...(Object.keys(HTTP_SCENARIOS) as HttpScenario[]),
  'jobs',
  'jobs-each',
  'cold-start',
] as const;
type Scenario = (typeof ALL_SCENARIOS)[number];

const HELP = `npm run bench -- [options]
  --rows N          products to seed (default 10000; the deep-page scenario needs --rows 1000000 or --deep)
  --duration S      seconds of load per run (default 5)
  --connections N   autocannon connections (default 32)
  --runs N          measured runs per contender, alternating; the median is reported (default 3)
  --warmup S        seconds of warm-up load per contender and scenario (default 2)
  --only a,b        scenarios: ${ALL_SCENARIOS.join(', ')}
  --jobs N          jobs for the jobs and jobs-each scenarios (default 20000)
  --quick           a short run to check the harness, not to measure: 1000 rows, 1 run of 2 s, 1 s warm-up,
                    8 connections, 2000 jobs (options given explicitly win)
  --log-level L     LOG_LEVEL of nestor and equivalent-raw (default: unset, Nestor's production default
                    info: one JSON line per request); the report's contender lines say which was used
  --deep            run deep-page even below 1,000,000 rows
  --out DIR         results directory (default test/bench/results; writes <date>.md and latest.md there)
  --deep-connections N  connections for deep-page (default 1: a latency measure; each request counts
                    1M rows), which loads for at least 10 s per run
  --before DIR      also run another build of Nestor (a copy of dist/ inside this checkout, e.g. .tmp/dist-before)
                    as contender "nestor-before", for before/after numbers in the same run (the HTTP and
                    cold-start scenarios run its bundle; jobs and jobs-each, this checkout's jobs contender
                    on its src/, as nestor-before and nestor-before-each)
  --before-label L  report that build as L instead of nestor-before
  --cpu-prof        write V8 CPU profiles of every contender to <out>/profiles/<contender>-<n>.cpuprofile
  --keep-db         do not drop the benchmark database at the end`;

interface Options {
  rows: number;
  duration: number;
  connections: number;
  runs: number;
  warmup: number;
  only: Set<Scenario>;
  jobs: number;
  deep: boolean;
  out: string;
  cpuProf: boolean;
  keepDb: boolean;
  deepConnections: number;
  before?: string;
  beforeLabel?: string;
  logLevel?: string;
}

/** `--quick`: enough to see every scenario run end to end, in a minute or two; no numbers to trust. */
const QUICK: Partial<Options> = { rows: 1000, duration: 2, runs: 1, warmup: 1, connections: 8, jobs: 2000 };

/** Where a build's app would load `nestor` from, when that is not inside the build: else undefined. */
function frameworkOutside(build: string): string | undefined {
  const dir = resolve(build);
  const framework = createRequire(join(dir, 'src', 'main.js')).resolve('nestor');
  return framework.startsWith(`${dir}/`) ? undefined : framework;
}

/**
 * The app imports the framework as `nestor`, which Node resolves through the nearest package.json named so:
 * for a bare `dist/` copy, the checkout's, whose exports point into the current dist/. nestor-before would
 * then run the old app on the new framework, and a before/after of a framework change would compare the new
 * code with itself.
 */
function checkBeforeFramework(before: string): void {
  if (existsSync(join(before, 'bundle', 'launch.js'))) {
    return; // the bundle holds its own framework
  }
  const framework = frameworkOutside(before);
  if (framework) {
    throw new Error(
      `--before: ${before}/src/main.js would load the framework from ${framework}. Put the copy in a ` +
        'directory of its own with a package.json named nestor beside it, e.g. `mkdir -p .tmp/before && ' +
        'cp -r dist .tmp/before/dist && cp .tmp/bench/package.json .tmp/before/` and pass .tmp/before/dist.',
    );
  }
}

/**
 * The jobs contender of `--before`: this checkout's `jobs-nestor` on the other build's framework and app
 * (`src/…` unbundled, since a job worker is not an HTTP server), from a copy beside a package.json named
 * nestor (bench.mjs's), so `nestor` resolves inside that build whatever directory DIR sits in. Made once per
 * run (and removed at its end), safe from rebuilds of DIR as the measured build's snapshot is. Returns its
 * NODE_PATH.
 */
const BEFORE_JOBS = join(ROOT, '.tmp', 'bench', 'before');
let beforeJobsPath: string | undefined;
function beforeJobsNodePath(before: string): string {
  if (!beforeJobsPath) {
    rmSync(BEFORE_JOBS, { recursive: true, force: true });
    cpSync(before, join(BEFORE_JOBS, 'dist'), { recursive: true });
    copyFileSync(join(DIST, '..', 'package.json'), join(BEFORE_JOBS, 'package.json'));
    const framework = frameworkOutside(join(BEFORE_JOBS, 'dist'));
    if (framework) {
      throw new Error(`--before: the jobs contender would load the framework from ${framework}`);
    }
    beforeJobsPath = [join(DIST, '..'), join(BEFORE_JOBS, 'dist')].join(':');
  }
  return beforeJobsPath;
}

/** How `--before DIR` starts: its bundle as `npm start` does, or `src/main.js` for a build without one. */
function beforeEntry(before: string): string[] {
  const launcher = join(before, 'bundle', 'launch.js');
  return existsSync(launcher) ? [launcher, 'main'] : [join(before, 'src', 'main.js')];
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    rows: 10_000,
    duration: 5,
    connections: 32,
    runs: 3,
    warmup: 2,
    only: new Set(ALL_SCENARIOS),
    jobs: 20_000,
    deep: false,
    out: join(ROOT, 'test', 'bench', 'results'),
    cpuProf: false,
    keepDb: false,
    deepConnections: 1,
  };
  const positive = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new Error(`--${name} expects a positive number, got ${value}`);
    }
    return n;
  };
  const given = new Set<string>();
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    given.add(arg.replace(/^--/, ''));
    switch (arg) {
      case '--rows':
        options.rows = Math.floor(positive('rows', argv[++i]));
        break;
      case '--duration':
        options.duration = positive('duration', argv[++i]);
        break;
      case '--connections':
        options.connections = Math.floor(positive('connections', argv[++i]));
        break;
      case '--runs':
        options.runs = Math.floor(positive('runs', argv[++i]));
        break;
      case '--warmup':
        options.warmup = Number(argv[++i]);
        break;
      case '--jobs':
        options.jobs = Math.floor(positive('jobs', argv[++i]));
        break;
      case '--only': {
        const wanted = (argv[++i] ?? '').split(',').filter(Boolean);
        const unknown = wanted.filter((s) => !(ALL_SCENARIOS as readonly string[]).includes(s));
        if (unknown.length > 0 || wanted.length === 0) {
          throw new Error(
            `--only: unknown scenario ${unknown.join(', ')} (known: ${ALL_SCENARIOS.join(', ')})`,
          );
        }
        options.only = new Set(wanted as Scenario[]);
        break;
      }
      case '--deep':
        options.deep = true;
        break;
      case '--out':
        options.out = argv[++i];
        break;
      case '--deep-connections':
        options.deepConnections = Math.floor(positive('deep-connections', argv[++i]));
        break;
      case '--before':
        options.before = argv[++i];
        if (!existsSync(join(options.before, 'src', 'main.js'))) {
          throw new Error(`--before: ${options.before}/src/main.js does not exist`);
        }
        checkBeforeFramework(options.before);
        break;
      case '--before-label':
        options.beforeLabel = argv[++i];
        break;
      case '--cpu-prof':
        options.cpuProf = true;
        break;
      case '--keep-db':
        options.keepDb = true;
        break;
      case '--quick':
        quick = true;
        break;
      case '--log-level':
        options.logLevel = argv[++i];
        if (!options.logLevel) {
          throw new Error('--log-level expects a level (fatal, error, warn, info, debug, trace, silent)');
        }
        break;
      case '--help':
        process.stdout.write(`${HELP}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`Unknown option ${arg}\n${HELP}`);
    }
  }
  if (quick) {
    for (const [name, value] of Object.entries(QUICK)) {
      if (!given.has(name)) {
        Object.assign(options, { [name]: value });
      }
    }
  }
  return options;
}

const log = (text: string) => process.stdout.write(`${text}\n`);

interface Contender {
  name: ContenderName;
  port: number;
  process: BenchProcess;
}

/** Everything the contenders share: the database, Redis prefix, Nestor's environment and token. */
interface Setup {
  options: Options;
  db: TestDatabase;
  redisUrl: string;
  prefix: string;
  nestorEnv: NodeJS.ProcessEnv;
  token?: string;
  /** ETags of the hot products, read from nestor before the conditional-get scenario. */
  etags: Map<number, string>;
  /** The CPU of the results in <out>/latest.md, when another than this machine's (see previousCpu). */
  previousCpu?: string;
}

function contextOf(setup: Setup): ScenarioContext {
  return { rows: setup.options.rows, token: setup.token, etags: setup.etags };
}

function script(name: string): string[] {
  return [join(BENCH_OUT, 'contenders', `${name}.js`)];
}

let profiles = 0;

/**
 * `--cpu-prof`: V8 CPU profiles of every contender, in <out>/profiles/<contender>-<n>.cpuprofile, so a cost
 * in Nestor can be set against the same cost in raw.
 */
function profileFlags(options: Options, name: string): string[] {
  if (!options.cpuProf) {
    return [];
  }
  profiles += 1;
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${join(options.out, 'profiles')}`,
    `--cpu-prof-name=${name}-${profiles}.cpuprofile`,
  ];
}

/**
 * nestor-limited's request budgets: counted in Redis on every request, as production's are, but too large for
 * one load generator from one address to use up (production's 300/minute would answer it 429 within a second).
 * Counting costs the same whatever the budget.
 */
const PRODUCTION_BUDGETS = { RATE_LIMIT_ANON: '9999999/second', RATE_LIMIT_USER: '9999999/second' };

/** Started only by the cold-start scenario: the same build's unbundled server, against the bundle. */
type ColdOnly = 'bare-nest' | 'nestor-unbundled';

function commandOf(setup: Setup, name: ContenderName | ColdOnly): string[] {
  switch (name) {
    case 'raw':
      return [...profileFlags(setup.options, name), ...script('raw')];
    case 'equivalent-raw':
      return [...profileFlags(setup.options, name), ...script('equivalent-raw')];
    case 'nest-handwritten':
      return [...profileFlags(setup.options, name), ...script('nest-docs')];
    case 'peer':
      return [...profileFlags(setup.options, name), ...script('peer')];
    case 'bare-nest':
      return script('bare-nest');
    case 'nestor':
    case 'nestor-cached':
    case 'nestor-limited': {
      // As `npm start` runs it: the bundle, through the launcher that turns the compile cache on.
      return [...profileFlags(setup.options, name), join(DIST, 'bundle', 'launch.js'), 'main'];
    }
    case 'nestor-unbundled':
      return [...profileFlags(setup.options, name), join(DIST, 'src', 'main.js')];
    case 'nestor-before':
      // As nestor: the other build's bundle when it has one (builds before the bundle have only main.js).
      return [...profileFlags(setup.options, name), ...beforeEntry(setup.options.before!)];
  }
}

async function startContender(
  setup: Setup,
  name: ContenderName | ColdOnly,
): Promise<{ port: number; process: BenchProcess; seconds: number; cpu: number }> {
  const port = await freePort();
  const plain = { ...process.env, DATABASE_URL: setup.db.url, NODE_ENV: 'production' };
  const env: NodeJS.ProcessEnv = {
    ...(name === 'nestor' || name === 'nestor-before' || name === 'nestor-unbundled'
      ? { ...setup.nestorEnv, RESOURCE_CACHE: 'off' }
      : name === 'nestor-cached'
        ? setup.nestorEnv
        : name === 'nestor-limited'
          ? { ...setup.nestorEnv, RESOURCE_CACHE: 'off', ...PRODUCTION_BUDGETS }
          : name === 'equivalent-raw'
            ? // Nestor's signing secret (to verify its tokens) and log level.
              { ...plain, SECRET_KEY: setup.nestorEnv.SECRET_KEY, LOG_LEVEL: setup.nestorEnv.LOG_LEVEL }
            : plain),
    PORT: String(port),
  };
  const child = new BenchProcess(name, commandOf(setup, name), env);
  try {
    const seconds = await child.waitReady(port, '/health/live');
    return { port, process: child, seconds, cpu: cpuSeconds(child.pid) };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Sends a scenario's first request once and checks the answer is a 2xx (or the status it expects). */
async function probe(contender: Contender, spec: LoadRequest): Promise<string> {
  const varied = spec.next?.() ?? {};
  const body = varied.body ?? spec.body;
  const answer = await http(contender.port, spec.method, varied.path ?? spec.path, {
    headers: { ...spec.headers, ...varied.headers },
    body: body ? (JSON.parse(body) as unknown) : undefined,
  });
  const expected =
    spec.expectStatus === undefined
      ? answer.status >= 200 && answer.status <= 299
      : answer.status === spec.expectStatus;
  if (!expected) {
    throw new Error(
      `${contender.name} answered ${spec.method} ${varied.path ?? spec.path} with ${answer.status}: ${answer.body.slice(0, 500)}`,
    );
  }
  return answer.body;
}

/**
 * Waits until a contender answers a cheap request again: requests autocannon abandoned at the end of a slow
 * run (a deep OFFSET takes seconds) keep its database pool busy for a while.
 */
async function settle(contender: Contender): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const answer = await http(contender.port, 'GET', '/api/products/1').catch(() => undefined);
    if (answer?.status === 200) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${contender.name} did not recover within 120 s after a deep-page run`);
}

/** Fails the run loudly unless raw answers each checked request with exactly Nestor's bytes. */
async function verifyIdentical(
  setup: Setup,
  raw: Contender,
  nestor: Contender,
  paths: string[],
): Promise<void> {
  for (const path of paths) {
    const [a, b] = await Promise.all([http(nestor.port, 'GET', path), http(raw.port, 'GET', path)]);
    if (a.status !== 200 || b.status !== 200 || a.body !== b.body) {
      throw new Error(
        `NOT BYTE-IDENTICAL: GET ${path} (nestor ${a.status}, raw ${b.status}) ${firstDifference(a.body, b.body)}`,
      );
    }
  }
  // Creates: the same body to both (the first row is removed in between); ids and timestamps naturally differ.
  const body = IDENTITY_BODY;
  const created = await http(nestor.port, 'POST', '/api/products', {
    body,
    headers: { authorization: `Bearer ${setup.token}` },
  });
  await removeCreated(setup.db.url);
  const createdRaw = await http(raw.port, 'POST', '/api/products', { body });
  await removeCreated(setup.db.url);
  const normalise = normaliseCreated;
  if (
    created.status !== 201 ||
    createdRaw.status !== 201 ||
    normalise(created.body) !== normalise(createdRaw.body)
  ) {
    throw new Error(
      `NOT BYTE-IDENTICAL: POST /api/products (nestor ${created.status}, raw ${createdRaw.status}) ${firstDifference(
        normalise(created.body),
        normalise(createdRaw.body),
      )}`,
    );
  }
  log(`  raw and nestor answer byte-identically (${paths.length} GETs and a POST checked)`);
}

/** The name a contender is reported under (`--before-label` renames the second Nestor build). */
function labelOf(setup: Setup, name: ContenderName): string {
  return name === 'nestor-before' ? (setup.options.beforeLabel ?? name) : name;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** What the request budgets cost, from limited-get-by-id's medians: nestor-limited against nestor. */
function budgetCost(rows: readonly HttpRow[]): string {
  const of = (contender: string) =>
    rows.find((r) => r.scenario === HTTP_SCENARIOS['limited-get-by-id'] && r.contender === contender)?.sample;
  const off = of('nestor');
  const on = of('nestor-limited');
  if (!off || !on) {
    return '';
  }
  const fewer = (100 * (off.rps - on.rps)) / off.rps;
  return `Request budgets (limited-get-by-id): nestor-limited made ${Math.round(on.rps).toLocaleString('en-US')} req/s at ${Math.round(on.cpuUs)} server CPU µs/req, nestor (budgets off) ${Math.round(off.rps).toLocaleString('en-US')} at ${Math.round(off.cpuUs)}: counting in Redis costs ${Math.round(on.cpuUs - off.cpuUs)} µs of CPU per request and ${fewer.toFixed(0)} % of the req/s.`;
}

/** Warm-up, then `runs` alternating measured runs of each contender; the median per contender. */
async function measure(
  setup: Setup,
  scenario: string,
  specs: { contender: Contender; spec: (tag: string) => LoadRequest }[],
  connections = setup.options.connections,
  duration = setup.options.duration,
): Promise<HttpRow[]> {
  const { options } = setup;
  const samples = new Map<string, LoadSample[]>();
  if (options.warmup > 0) {
    for (const { contender, spec } of specs) {
      await load(contender.port, spec(`W${contender.name.length}${contender.name[0].toUpperCase()}`), {
        connections,
        duration: options.warmup,
      });
    }
  }
  for (let run = 0; run < options.runs; run++) {
    // Rotated, and reversed every other run, so each contender follows each neighbour as often as it
    // precedes it: in A/A create runs (one build in two processes, always in the same order), the one
    // measured right after the other was 25-60 % slower in 3 or 4 of 5 pairs, whichever it was (README).
    const order = rotate(specs, run);
    for (const { contender, spec } of run % 2 === 0 ? order : order.reverse()) {
      const sample = await load(
        contender.port,
        spec(`R${run}${contender.name.length}${contender.name[0].toUpperCase()}`),
        {
          connections,
          duration,
          pid: contender.process.pid,
        },
      );
      samples.set(contender.name, [...(samples.get(contender.name) ?? []), sample]);
      log(
        `  ${scenario.padEnd(22)} ${labelOf(setup, contender.name).padEnd(17)} run ${run + 1}: ${sample.rps.toFixed(0)} req/s, p50 ${sample.p50} ms, p99 ${sample.p99} ms, ${sample.cpuUs.toFixed(0)} µs CPU/req (PostgreSQL ${sample.postgresUs.toFixed(0)}, Redis ${sample.redisUs.toFixed(0)})${sample.failures ? `, ${sample.failures} FAILED` : ''}`,
      );
    }
  }
  return specs.map(({ contender }) => ({
    scenario,
    contender: labelOf(setup, contender.name),
    sample: summarise(samples.get(contender.name)!),
  }));
}

async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        await redis.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/**
 * The jobs scenarios, alternating run by run: `jobs` enqueues in bulk (Nestor's enqueueMany, bullmq's
 * addBulk), `jobs-each` with one awaited call per job (enqueue, add), both in chunks of 1,000.
 */
async function jobsScenario(setup: Setup, bulk: boolean, each: boolean): Promise<TimedRow[]> {
  const { options } = setup;
  const times = new Map<string, number[]>();
  const cpuPerJob = new Map<string, { own: number; postgres: number; redis: number }[]>();
  const unfinished = new Map<string, number>();
  // With --before, the other build's framework runs the same jobs contender (nestor-before, -each).
  const builds = [
    { name: 'nestor', before: false },
    ...(options.before ? [{ name: labelOf(setup, 'nestor-before'), before: true }] : []),
  ];
  const kinds = [
    ...(bulk
      ? [
          { name: 'raw-bullmq', script: 'jobs-raw', each: false, before: false },
          ...builds.map((b) => ({ ...b, script: 'jobs-nestor', each: false })),
        ]
      : []),
    ...(each
      ? [
          { name: 'raw-bullmq-each', script: 'jobs-raw', each: true, before: false },
          ...builds.map((b) => ({ ...b, name: `${b.name}-each`, script: 'jobs-nestor', each: true })),
        ]
      : []),
  ];
  for (let run = 0; run < options.runs; run++) {
    for (const kind of rotate(kinds, run)) {
      const prefix = `${setup.prefix}j${run}k${kinds.indexOf(kind)}`;
      const child = new BenchProcess(
        kind.name,
        [...profileFlags(options, kind.name), ...script(kind.script)],
        {
          ...setup.nestorEnv,
          ...(kind.before ? { NODE_PATH: beforeJobsNodePath(options.before!) } : {}),
          JOBS_PREFIX: prefix,
          JOBS: String(options.jobs),
          WORKERS: 'inline',
          JOBS_BACKEND: 'redis',
          JOBS_ENQUEUE: kind.each ? 'each' : 'bulk',
        },
      );
      const output = await child.finished();
      const line = output
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{"elapsedMs"'));
      if (!line) {
        throw new Error(`${kind.name} printed no result:\n${output}`);
      }
      const result = JSON.parse(line) as {
        elapsedMs: number;
        unfinished?: number;
        cpuMs: number;
        postgresMs: number;
        redisMs: number;
        framework: string;
      };
      const build = kind.before ? join(BEFORE_JOBS, 'dist') : DIST;
      if (kind.script === 'jobs-nestor' && !result.framework.startsWith(`${build}/`)) {
        throw new Error(`${kind.name} ran the framework in ${result.framework}, not the build in ${build}`);
      }
      const seconds = result.elapsedMs / 1000;
      if (result.unfinished) {
        unfinished.set(kind.name, Math.max(unfinished.get(kind.name) ?? 0, result.unfinished));
        log(
          `  jobs ${kind.name}: ${result.unfinished} outbox rows still unfinished a minute after the last job ran`,
        );
      }
      times.set(kind.name, [...(times.get(kind.name) ?? []), seconds]);
      const perJob = (ms: number) => (ms * 1000) / options.jobs;
      const cpu = {
        own: perJob(result.cpuMs),
        postgres: perJob(result.postgresMs),
        redis: perJob(result.redisMs),
      };
      cpuPerJob.set(kind.name, [...(cpuPerJob.get(kind.name) ?? []), cpu]);
      log(
        `  jobs ${kind.name.padEnd(16)} run ${run + 1}: ${seconds.toFixed(2)} s (${(options.jobs / seconds).toFixed(0)} jobs/s, CPU µs/job: ${cpu.own.toFixed(0)} own, ${cpu.postgres.toFixed(0)} PostgreSQL, ${cpu.redis.toFixed(0)} Redis)`,
      );
      await deleteRedisKeys(setup.redisUrl, prefix);
      // Every run starts from an empty outbox (Nestor keeps finished rows for a week).
      await execute(setup.db.url, 'DELETE FROM job_outbox; DELETE FROM job_effect');
      await execute(setup.db.url, 'VACUUM ANALYZE job_outbox');
    }
  }
  return kinds.map((k) => ({
    contender: k.name,
    seconds: median(times.get(k.name)!),
    cpuUs: median(cpuPerJob.get(k.name)!.map((c) => c.own)),
    postgresUs: median(cpuPerJob.get(k.name)!.map((c) => c.postgres)),
    redisUs: median(cpuPerJob.get(k.name)!.map((c) => c.redis)),
    enqueue: k.each ? 'one call per job' : 'bulk',
    detail: unfinished.get(k.name)
      ? `up to ${unfinished.get(k.name)} outbox rows never marked finished; time is until the last handler ran`
      : undefined,
  }));
}

/**
 * Each app started `runs` times, in rotating order: wall and CPU time (user + system of its process, from
 * /proc) until /health/live first answers 200, and RSS after 2 s idle. Nestor runs as `npm start` does (the
 * bundle); `nestor-unbundled` is the same build's dist/src/main.js, and `--before` adds that build's.
 */
async function coldStartScenario(setup: Setup): Promise<TimedRow[]> {
  const apps: (ColdOnly | ContenderName)[] = ['bare-nest', 'raw', 'nest-handwritten', 'peer', 'nestor'];
  apps.push('nestor-unbundled', ...(setup.options.before ? (['nestor-before'] as const) : []));
  const runs = new Map<string, { seconds: number; cpu: number; rss: number }[]>();
  for (let run = 0; run < setup.options.runs; run++) {
    for (const app of rotate(apps, run)) {
      const started = await startContender({ ...setup, options: { ...setup.options, cpuProf: false } }, app);
      await new Promise((resolve) => setTimeout(resolve, 2000)); // idle: let boot-time garbage settle
      const idle = rssMb(started.process.pid);
      await started.process.stop();
      runs.set(app, [...(runs.get(app) ?? []), { seconds: started.seconds, cpu: started.cpu, rss: idle }]);
      log(
        `  cold start ${app.padEnd(17)} run ${run + 1}: ${started.seconds.toFixed(2)} s, CPU ${started.cpu.toFixed(2)} s, idle RSS ${idle.toFixed(0)} MB`,
      );
    }
  }
  const medianOf = (app: string, key: 'seconds' | 'cpu' | 'rss') => median(runs.get(app)!.map((r) => r[key]));
  return apps.map((app) => ({
    contender: app === 'nestor-before' ? labelOf(setup, app) : app,
    seconds: medianOf(app, 'seconds'),
    cpuSeconds: medianOf(app, 'cpu'),
    rss: medianOf(app, 'rss'),
    detail:
      app === 'nestor'
        ? 'the shop: 9 resources + auth, admin, jobs, docs; bundled, as `npm start`'
        : app === 'nestor-unbundled'
          ? 'the same build, dist/src/main.js'
          : undefined,
  }));
}

const cpuOfThisMachine = `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`;

/**
 * The CPU the results this run replaces as latest.md were measured on, when it is not this one: req/s and
 * µs differ between CPUs for reasons that are not Nestor's (raw's reads ran 9.6k req/s on one 2-core
 * machine here and 13.5k on another), so only ratios compare across them.
 */
function previousCpu(out: string): string | undefined {
  const latest = join(out, 'latest.md');
  const line = existsSync(latest)
    ? readFileSync(latest, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('- CPU: '))
    : undefined;
  const cpu = line?.slice('- CPU: '.length).split(';')[0];
  return cpu !== undefined && cpu !== cpuOfThisMachine ? cpu : undefined;
}

function machine(
  setup: Setup,
  versions: { postgres: string; redis: string },
  loads: string[],
  watch: MachineWatch,
): string {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim();
    commit += dirty ? ' (with uncommitted changes)' : '';
  } catch {
    // not a git checkout
  }
  const o = setup.options;
  return [
    `- CPU: ${cpuOfThisMachine}; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    ...(setup.previousCpu
      ? [
          `- **Another CPU than the results this run replaces** (${setup.previousCpu}): compare its ratios with theirs, not its req/s, seconds or µs`,
        ]
      : []),
    `- Node ${process.version}; ${versions.postgres}; Redis ${versions.redis}; commit ${commit}`,
    `- Load average (1/5/15 min): ${loads.join(' → ')}${
      loads.some((l) => Number(l.split(' ')[0]) > 1.5) ? ' — **above 1.5: numbers are noisy**' : ''
    }`,
    ...watch.lines(),
    `- ${o.rows.toLocaleString('en-US')} products; autocannon ${o.connections} connections × ${o.duration} s, ${o.warmup} s warm-up, ${o.runs} alternating runs per contender (medians)`,
  ].join('\n');
}

/** The contender line of each variant, in the report when one of its scenarios ran. */
const VARIANT_LINES: Record<Variant, string> = {
  'nestor-cached':
    "- **nestor-cached** (cached scenarios only): nestor with its resource cache on (Redis; products declare `cache: { ttl: 60 }`), otherwise nestor's settings.",
  'nestor-limited': `- **nestor-limited** (limited-get-by-id only): nestor with production's request budgets on, counted in Redis (one script per request), as with several processes behind a load balancer; RATE_LIMIT_ANON and RATE_LIMIT_USER=${PRODUCTION_BUDGETS.RATE_LIMIT_ANON}, so that one load generator from one address is never refused. Otherwise nestor's settings.`,
};

/** The report's contender lines: what each does, and every setting that differs from its defaults, with why. */
function contenderLines(setup: Setup): string {
  const level = setup.options.logLevel;
  const requestLog = level === undefined || ['info', 'debug', 'trace'].includes(level);
  const logging = `LOG_LEVEL=${level ?? 'unset (the production default, info)'}: ${requestLog ? 'one JSON line per request' : '**no request log line**'}`;
  return [
    '- **raw**: hand-written Fastify + `pg`, prepared statements, JSON-schema serialisation; byte-identical JSON to nestor (checked every run). No auth, audit, ETag or request log (Fastify logger off): the price of the features.',
    `- **equivalent-raw**: raw doing Nestor's work, on get-by-id and create only: ETag, Cache-Control and If-None-Match → 304 on reads; on creates the JWT verified as Nestor does (HS256, HKDF-derived key, issuer, audience, exp), the user and its permissions loaded per request with Nestor's query (session not revoked), \`products.add\` checked, one transaction with the INSERT … RETURNING and the same audit entry (answers, ETags, 304s and audit rows checked against nestor every run); pino request log written synchronously, as nestor's, ${logging}. Not done: security headers, request-id header, metrics, rate limits, API-version headers: the price of the framework.`,
    '- **nest-handwritten**: NestJS + TypeORM the way the NestJS docs teach (repository service, DTOs, global ValidationPipe); Fastify adapter, since @nestjs/platform-express is not installed; Nest logger error and warn only (no request log).',
    '- **peer**: `@dataui/crud` + `@dataui/crud-typeorm` 5.3.4 on the same entity (Fastify adapter); Nest logger error and warn only (no request log).',
    `- **nestor**: \`node dist/bundle/launch.js main\` (the bundle, as \`npm start\` runs it), NODE_ENV=production, the real shop; public reads anonymous, writes with a superuser token (JWT check, principal load, transaction, audit entry). ${logging}. Off in every run, and why: RESOURCE_CACHE=off (the cache would answer the database-path scenarios; nestor-cached has it on), RATE_LIMIT_ANON=off and RATE_LIMIT_USER=off (one load generator from one address would be answered 429; no baseline has a budget; nestor-limited measures what they cost). ACCESS_TOKEN_TTL=86400 so the token outlives the run (checking it costs the same).`,
    ...(setup.options.before
      ? [
          `- **${labelOf(setup, 'nestor-before')}**: another build of Nestor (\`${beforeEntry(setup.options.before).join(' ')}\`), with nestor's settings; in the jobs scenarios, this checkout's jobs contender on that build's \`src/\` (the framework and the shop), with this checkout's node_modules.`,
        ]
      : []),
    ...variantsOf(setup.options.only).map((variant) => VARIANT_LINES[variant]),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const loads = [
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  ];
  const watch = new MachineWatch();
  const wants = (s: Scenario) => options.only.has(s);
  const deep = wants('deep-page') && (options.deep || options.rows >= 1_000_000);
  log(
    `Nestor benchmark: ${options.rows} rows, ${options.connections} connections × ${options.duration} s, ${options.runs} runs`,
  );
  if (loads[0] && Number(loads[0].split(' ')[0]) > 1.5) {
    log(`  warning: load average ${loads[0]}: timings will be noisy`);
  }
  const db = await createTestDatabase('nestor_bench');
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `nestorbench${process.pid}${randomBytes(2).toString('hex')}`;
  const setup: Setup = {
    options,
    db,
    redisUrl,
    prefix,
    etags: new Map(),
    previousCpu: previousCpu(options.out),
    nestorEnv: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      JOBS_PREFIX: prefix,
      NODE_ENV: 'production',
      SECRET_KEY: randomBytes(32).toString('base64url'),
      // Unset unless --log-level: Nestor's production default (info: one JSON line per request).
      LOG_LEVEL: options.logLevel,
      HOST: '127.0.0.1',
      // Longer than any run (production's default is shorter); checking a token costs the same either way.
      ACCESS_TOKEN_TTL: '86400',
      NESTOR_SUPERUSER_EMAIL: 'bench@example.com',
      NESTOR_SUPERUSER_PASSWORD: 'bench-password-0123',
      // One load generator from one address: the request budget would answer 429 (the raw contender has none).
      RATE_LIMIT_ANON: 'off',
      RATE_LIMIT_USER: 'off',
    },
  };
  // Ctrl-C: stop the processes this run started (by their pids) and drop the database.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the contenders and dropping ${db.name}`);
      void Promise.all([...BenchProcess.running].map((p) => p.stop()))
        .then(() => (options.keepDb ? undefined : db.drop()))
        .finally(() => process.exit(130));
    });
  }
  const contenders: Contender[] = [];
  const httpRows: HttpRow[] = [];
  let jobRows: TimedRow[] = [];
  let coldRows: TimedRow[] = [];
  let deepNote = '';
  let cacheNote = '';
  let budgetNote = '';
  try {
    log(`Seeding ${db.name}…`);
    nestorCli(['migrate'], setup.nestorEnv);
    await seedCatalog(db.url, options.rows);
    nestorCli(['createsuperuser', '--no-input'], setup.nestorEnv);
    const versions = {
      postgres: (await queryValue<string>(db.url, 'SELECT version() AS v')).split(' on ')[0],
      redis: await (async () => {
        const redis = new Redis(redisUrl);
        const info = await redis.info('server');
        await redis.quit();
        return /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
      })(),
    };

    const httpWanted = (Object.keys(HTTP_SCENARIOS) as HttpScenario[]).filter(
      (s) => wants(s) && (s !== 'deep-page' || deep),
    );
    if (httpWanted.length > 0) {
      const variants = variantsOf(httpWanted);
      for (const name of [
        ...CONTENDERS,
        ...(options.before ? (['nestor-before'] as const) : []),
        ...variants,
      ]) {
        const started = await startContender(setup, name);
        contenders.push({ name, port: started.port, process: started.process });
      }
      const byName = (name: ContenderName) => contenders.find((c) => c.name === name)!;
      const login = await http(byName('nestor').port, 'POST', '/api/auth/login', {
        body: {
          email: setup.nestorEnv.NESTOR_SUPERUSER_EMAIL,
          password: setup.nestorEnv.NESTOR_SUPERUSER_PASSWORD,
        },
      });
      setup.token = (JSON.parse(login.body) as { accessToken: string }).accessToken;
      if (!setup.token) {
        throw new Error(`Login failed: ${login.status} ${login.body}`);
      }
      if (variants.includes('nestor-limited')) {
        // The budgets must really be counted, or the scenario would measure nestor twice.
        const limit = (await http(byName('nestor-limited').port, 'GET', '/api/products/1')).headers[
          'x-ratelimit-limit'
        ];
        if (limit !== PRODUCTION_BUDGETS.RATE_LIMIT_ANON.split('/')[0]) {
          throw new Error(
            `nestor-limited answered without its request budget (X-RateLimit-Limit: ${String(limit)})`,
          );
        }
      }
      const deepPage = Math.floor((options.rows * 0.8) / 20);
      await verifyIdentical(setup, byName('raw'), byName('nestor'), [
        '/api/products/1',
        `/api/products/${Math.ceil(options.rows / 2)}`,
        `/api/products/${options.rows}`,
        '/api/products?limit=20&filter[price][gte]=10&sort=-price',
        REST_LIST_INCLUDE,
        '/api/products?limit=20&filter[price][gte]=10&sort=-price&page=3',
        '/api/products?limit=20',
        ...(deep ? [`/api/products?limit=20&page=${deepPage}`] : []),
      ]);
      const ids = [1, Math.ceil(options.rows / 2), options.rows];
      await verifyEquivalent(db.url, setup.token, byName('equivalent-raw'), byName('nestor'), ids);
      log(
        `  equivalent-raw answers as nestor does (${ids.length} GETs with their ETags and 304s, a POST and its audit entry)`,
      );
      if (wants('graphql-list-include')) {
        const speakers = contenders.filter((c) =>
          requestFor(contextOf(setup), 'graphql-list-include', c.name, 'P'),
        );
        for (const speaker of speakers) {
          const rows = await verifyGraphqlList(speaker, REST_LIST_INCLUDE, GRAPHQL_LIST_INCLUDE);
          log(
            `  ${speaker.name}'s GraphQL list answers its REST list + include (${rows} rows, each with its category)`,
          );
        }
      }
      if (wants('get-by-id-304')) {
        for (let id = 1; id <= Math.min(options.rows, HOT_IDS); id++) {
          const answer = await http(byName('nestor').port, 'GET', `/api/products/${id}`);
          setup.etags.set(id, String(answer.headers.etag));
        }
      }

      for (const scenario of httpWanted) {
        if (scenario === 'deep-page') {
          continue;
        }
        log(`${scenario}: machine speed probe ${watch.probe(scenario).toFixed(1)} ms`);
        const context = contextOf(setup);
        const participants = contenders.filter((c) => requestFor(context, scenario, c.name, 'P'));
        for (const c of participants) {
          await probe(
            c,
            requestFor(context, scenario, c.name, `P${c.name.length}${c.name[0].toUpperCase()}`)!,
          );
        }
        if (scenario === 'create') {
          await removeCreated(db.url);
        }
        log(`${scenario}:`);
        httpRows.push(
          ...(await measure(
            setup,
            HTTP_SCENARIOS[scenario],
            participants.map((contender) => ({
              contender,
              spec: (tag: string) => requestFor(context, scenario, contender.name, tag)!,
            })),
          )),
        );
        if (scenario === 'create') {
          await removeCreated(db.url);
        }
      }

      if (variants.includes('nestor-cached')) {
        // The cache's own count of what the load above hit (probes and warm-up included).
        const text = (await http(byName('nestor-cached').port, 'GET', '/metrics')).body;
        const count = (kind: string) =>
          Number(
            new RegExp(`nestor_resource_cache_${kind}_total\\{resource="products"\\} (\\d+)`).exec(
              text,
            )?.[1] ?? 0,
          );
        const hits = count('hits');
        const misses = count('misses');
        cacheNote = `Resource cache of nestor-cached (products), over the cached scenarios' probes, warm-up and runs: ${hits.toLocaleString('en-US')} hits, ${misses.toLocaleString('en-US')} misses, hit ratio ${((100 * hits) / Math.max(1, hits + misses)).toFixed(1)} %.`;
        log(cacheNote);
      }
      if (variants.includes('nestor-limited')) {
        budgetNote = budgetCost(httpRows);
        log(budgetNote);
      }

      if (deep) {
        watch.probe('deep-page');
        log(`deep pages (${options.deepConnections} connections):`);
        const deepContenders = contenders.filter((c) => ['raw', 'nestor', 'nestor-before'].includes(c.name));
        const cursors = new Map<string, string>();
        for (const c of deepContenders) {
          const page = await http(c.port, 'GET', `/api/products?limit=20&page=${deepPage}`);
          cursors.set(c.name, (JSON.parse(page.body) as { meta: { nextCursor: string } }).meta.nextCursor);
        }
        const variants: [string, (c: Contender) => string][] = [
          ['deep: page 1', () => '/api/products?limit=20'],
          [`deep: offset page ${deepPage}`, () => `/api/products?limit=20&page=${deepPage}`],
          ['deep: cursor at the same depth', (c) => `/api/products?limit=20&after=${cursors.get(c.name)}`],
        ];
        for (const [label, pathOf] of variants) {
          for (const c of deepContenders) {
            await settle(c);
            await probe(c, { method: 'GET', path: pathOf(c) });
          }
          httpRows.push(
            ...(await measure(
              setup,
              label,
              deepContenders.map((contender) => ({
                contender,
                spec: () => ({ method: 'GET' as const, path: pathOf(contender) }),
              })),
              options.deepConnections,
              Math.max(options.duration, 10),
            )),
          );
        }
      }
    }
    if (!deep) {
      deepNote = `Deep pages (offset vs cursor at 1M rows) were skipped: they run with \`--rows 1000000\` (or \`--deep\`).`;
      log(deepNote);
    }
    for (const c of contenders) {
      await c.process.stop();
    }
    contenders.length = 0;

    if (wants('jobs') || wants('jobs-each')) {
      watch.probe('jobs');
      log('jobs:');
      jobRows = await jobsScenario(setup, wants('jobs'), wants('jobs-each'));
    }
    if (wants('cold-start')) {
      watch.probe('cold-start');
      log('cold start:');
      coldRows = await coldStartScenario(setup);
    }

    loads.push(
      loadavg()
        .map((l) => l.toFixed(2))
        .join(' '),
    );
    watch.probe('the end');
    watch.stop();
    const date = new Date().toISOString().slice(0, 10);
    const sections = [
      `# Nestor benchmark — ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC`,
      '## Machine',
      machine(setup, versions, loads, watch),
      '## Contenders',
      contenderLines(setup),
      ...(httpRows.length ? ['## HTTP (medians)', httpTable(httpRows)] : []),
      ...(cacheNote ? [cacheNote] : []),
      ...(budgetNote ? [budgetNote] : []),
      ...(deepNote ? [deepNote] : []),
      '## GraphQL',
      graphqlTable(httpRows),
      ...(jobRows.length ? ['## Jobs', jobsTable(jobRows, options.jobs)] : []),
      ...(coldRows.length ? ['## Cold start and idle memory', coldStartTable(coldRows)] : []),
      '## Targets (issue 23)',
      targetsTable(targets(httpRows, jobRows, coldRows)),
      'Benchmarks never fail on timing; a missed target is reported here, not as an exit code.',
    ];
    // Formatted as Prettier would, so committed results pass `npm run check`.
    const prettierOptions = (await resolveConfig(join(ROOT, 'README.md'))) ?? {};
    const report = await format(`${sections.join('\n\n')}\n`, { ...prettierOptions, parser: 'markdown' });
    log(`\n${report}`);
    mkdirSync(options.out, { recursive: true });
    let file = join(options.out, `${date}.md`);
    if (existsSync(file)) {
      file = join(options.out, `${date}-${new Date().toISOString().slice(11, 16).replace(':', '')}.md`);
    }
    writeFileSync(file, report);
    copyFileSync(file, join(options.out, 'latest.md'));
    log(`Results written to ${file}`);
  } finally {
    for (const c of contenders) {
      await c.process.stop();
    }
    await deleteRedisKeys(redisUrl, prefix).catch(() => undefined);
    rmSync(BEFORE_JOBS, { recursive: true, force: true });
    if (!options.keepDb) {
      await db.drop();
    } else {
      log(`Kept database ${db.url}`);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
