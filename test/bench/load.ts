import autocannon from 'autocannon';
import { cpuSeconds, rssMb, serviceCpuSeconds } from 'test/bench/processes';

/** One request shape for autocannon: fixed, or varied per request by `next` (a fresh path, body or headers). */
export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** A fixed body (a GraphQL query); `next` may give each request its own instead. */
  body?: string;
  next?: () => { path?: string; body?: string; headers?: Record<string, string> };
  /** The status every answer must have (default: any 2xx); others count as failed requests. */
  expectStatus?: number;
}

export interface LoadSample {
  rps: number;
  p50: number;
  p99: number;
  rss: number;
  /** The server process's CPU time per request, in microseconds: robust to a busy machine where req/s is not. */
  cpuUs: number;
  /** The local PostgreSQL server's CPU time per request (all its processes), in microseconds. */
  postgresUs: number;
  /** The local Redis server's CPU time per request, in microseconds. */
  redisUs: number;
  /** Responses that were not 2xx (not `expectStatus` when set), plus socket errors and timeouts. */
  failures: number;
}

/** Loads one contender with autocannon at fixed connections and duration; RSS is read at the end. */
export async function load(
  port: number,
  spec: LoadRequest,
  options: { connections: number; duration: number; pid?: number },
): Promise<LoadSample> {
  const cpuBefore = cpuSeconds(options.pid);
  const servicesBefore = serviceCpuSeconds();
  const headers = {
    ...(spec.method === 'POST' ? { 'content-type': 'application/json' } : {}),
    ...spec.headers,
  };
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections,
    duration: options.duration,
    pipelining: 1,
    requests: [
      {
        method: spec.method,
        path: spec.path,
        headers,
        ...(spec.body ? { body: spec.body } : {}),
        ...(spec.next
          ? {
              setupRequest: (request: autocannon.Request) => {
                const { path, body, headers: more } = spec.next!();
                return {
                  ...request,
                  ...(path ? { path } : {}),
                  ...(body ? { body } : {}),
                  ...(more ? { headers: { ...headers, ...more } } : {}),
                };
              },
            }
          : {}),
      },
    ],
  });
  const services = serviceCpuSeconds();
  const perRequest = (seconds: number) =>
    result.requests.total ? (seconds / result.requests.total) * 1e6 : NaN;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    rss: rssMb(options.pid),
    cpuUs: perRequest(cpuSeconds(options.pid) - cpuBefore),
    postgresUs: perRequest(services.postgres - servicesBefore.postgres),
    redisUs: perRequest(services.redis - servicesBefore.redis),
    failures:
      (spec.expectStatus === undefined
        ? result.non2xx
        : Math.max(
            0,
            result.requests.total - (result.statusCodeStats?.[`${spec.expectStatus}`]?.count ?? 0),
          )) +
      result.errors +
      result.timeouts,
  };
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median of each measure over a contender's runs. */
export function summarise(samples: LoadSample[]): LoadSample {
  return {
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    rss: median(samples.map((s) => s.rss)),
    cpuUs: median(samples.map((s) => s.cpuUs)),
    postgresUs: median(samples.map((s) => s.postgresUs)),
    redisUs: median(samples.map((s) => s.redisUs)),
    failures: samples.reduce((sum, s) => sum + s.failures, 0),
  };
}
