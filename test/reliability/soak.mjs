#!/usr/bin/env node
/**
 * Soak (issue 9 §5, not run in CI): a steady request mix at a fixed rate for some minutes, sampling the
 * server's resident memory every 10 s from its `/metrics`, then a table and the growth.
 *
 *   node test/reliability/soak.mjs [--minutes 5] [--rate 100] [--connections 10] [--url http://127.0.0.1:3000]
 *                                  [--no-build]
 *
 * Without `--url` it builds if needed, seeds and starts the bundled server (`dist/bundle/launch.js main`, as `npm start`) itself on a free port: on the
 * PostgreSQL database of DATABASE_URL if set (migrated and seeded first), else on a fresh embedded database
 * in a temporary DATA_DIR; it stops the server with SIGTERM at the end and checks the exit code.
 * Exit code: 0 when every request got 2xx, 1 otherwise (memory growth is reported, never judged).
 */
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
// eslint-disable-next-line no-restricted-imports -- a plain Node script: no src/ or test/ path alias here
import { startBuiltApp } from '../support/built-app.mjs';
const SAMPLE_EVERY_MS = 10_000;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string', default: '100' },
    connections: { type: 'string', default: '10' },
    url: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: node test/reliability/soak.mjs [--minutes 5] [--rate 100] [--connections 10] [--url URL] [--no-build]\n',
  );
  process.exit(0);
}
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const connections = Number(args.connections);
if (!(minutes > 0) || !(rate > 0) || !Number.isInteger(connections) || connections < 1) {
  process.stderr.write('--minutes and --rate take positive numbers, --connections a whole number ≥ 1\n');
  process.exit(2);
}

/** Starts the built app on a fresh, seeded database; returns its URL and a stop function. */
function startServer() {
  return startBuiltApp({
    build: !args['no-build'],
    // One client at a fixed rate measures memory, not the request budget.
    env: { RATE_LIMIT_ANON: 'off', RATE_LIMIT_USER: 'off' },
    commands: [['seed', '--count', '200']],
  });
}

/** The server's own view of itself, from its Prometheus metrics. */
async function sample(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const metric = (name) => {
    const match = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm'));
    return match ? Number(match[1]) : Number.NaN;
  };
  return {
    rss: metric('process_resident_memory_bytes') / 2 ** 20,
    heap: metric('nodejs_heap_size_used_bytes') / 2 ** 20,
    handles: metric('nodejs_active_handles_total'),
  };
}

async function productIds(url) {
  const res = await fetch(`${url}/api/products?limit=100&fields=id`);
  const body = await res.json();
  const ids = (body.data ?? []).map((p) => p.id);
  if (ids.length === 0) {
    throw new Error(`no products at ${url}/api/products: seed the database first (nestor seed)`);
  }
  return ids;
}

const server = args.url ? undefined : await startServer();
const url = (args.url ?? server.url).replace(/\/$/, '');
let failed;
try {
  const ids = await productIds(url);
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  const paths = [
    () => '/api/products?limit=20&filter[price][gte]=10&sort=-price',
    () => `/api/products/${pick()}`,
    () => '/api/products?limit=20&q=a&sort=name&include=category',
    () => `/api/products/${pick()}`,
    () => '/health/live',
  ];
  let n = 0;

  const samples = [];
  const started = performance.now();
  const take = async () => samples.push({ t: (performance.now() - started) / 1000, ...(await sample(url)) });
  await take();
  const timer = setInterval(() => void take(), SAMPLE_EVERY_MS);
  const seconds = Math.round(minutes * 60);
  process.stdout.write(
    `Soak: ${url}${server ? ` (pid ${server.pid})` : ''}, ${rate} req/s over ${connections} connections for ` +
      `${seconds} s, RSS every ${SAMPLE_EVERY_MS / 1000} s\n`,
  );
  const result = await autocannon({
    url,
    connections,
    overallRate: rate,
    duration: seconds,
    timeout: 10,
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[n++ % paths.length]() }) }],
  });
  clearInterval(timer);
  await take();

  process.stdout.write('\n   t (s)   RSS (MB)   heap used (MB)   handles\n');
  for (const s of samples) {
    process.stdout.write(
      `${s.t.toFixed(0).padStart(8)}${s.rss.toFixed(1).padStart(11)}${s.heap.toFixed(1).padStart(17)}` +
        `${String(s.handles).padStart(10)}\n`,
    );
  }
  const first = samples[0];
  const last = samples.at(-1);
  // From the second sample too: the first one is before the JIT and the caches warmed up.
  const warm = samples.length > 2 ? samples[1] : first;
  const growth = (from) =>
    `${(last.rss - from.rss).toFixed(1)} MB (${(((last.rss - from.rss) / from.rss) * 100).toFixed(1)} %)`;
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]),
  );
  process.stdout.write(
    `\nRequests: ${result.requests.total} in ${result.duration.toFixed(0)} s ` +
      `(${(result.requests.total / result.duration).toFixed(1)} req/s), statuses ${JSON.stringify(statuses)}, ` +
      `errors ${result.errors}, timeouts ${result.timeouts}; latency p50 ${result.latency.p50} ms, ` +
      `p99 ${result.latency.p99} ms\n` +
      `RSS growth: ${growth(first)} from the start, ${growth(warm)} from t=${warm.t.toFixed(0)} s; ` +
      `peak ${Math.max(...samples.map((s) => s.rss)).toFixed(1)} MB\n`,
  );
  failed = result.errors + result.timeouts + result.non2xx > 0;
} finally {
  if (server) {
    const code = await server.stop();
    process.stdout.write(`Server stopped with SIGTERM: exit ${code}\n`);
    if (code !== 0) {
      process.stderr.write(server.output().slice(-4000));
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
