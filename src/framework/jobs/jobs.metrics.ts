import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from 'src/framework/metrics/metrics.service';

/** The queue states the depth gauge reports (bullmq keeps prioritized jobs apart from waiting ones). */
export const DEPTH_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/** Job counts by state of every queue (a job name → state → count), as the jobs admin reads them. */
export type DepthReader = () => Promise<
  { name: string; counts: Partial<Record<(typeof DEPTH_STATES)[number], number>> }[]
>;

/** A scrape never waits longer than this for Redis: a down Redis leaves the gauge empty, not /metrics hung. */
const DEPTH_TIMEOUT_MS = 500;

/**
 * The jobs' Prometheus metrics, in the framework registry (`GET /metrics`):
 * `nestor_jobs_completed_total{name}` and `nestor_jobs_failed_total{name}` count runs in this process (every
 * failed attempt counts, retried or not), `nestor_job_duration_seconds{name}` times them, and
 * `nestor_job_queue_depth{name,state}` is read from Redis at scrape time (shared by all processes).
 * The runner calls `observe` after every run. Example: `metrics.observe('mail.send', 'completed', 0.2)`.
 */
@Injectable()
export class JobsMetrics {
  private readonly completed: Counter<'name'>;
  private readonly failed: Counter<'name'>;
  private readonly duration: Histogram<'name'>;

  /** Set by the jobs admin when a job backend exists (JobsService is not injected here: it injects us). */
  private readDepth?: DepthReader;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.completed = new Counter({
      name: 'nestor_jobs_completed_total',
      help: 'Job runs that completed, by job name',
      labelNames: ['name'] as const,
      registers,
    });
    this.failed = new Counter({
      name: 'nestor_jobs_failed_total',
      help: 'Job runs that failed (each failed attempt, retried or not), by job name',
      labelNames: ['name'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'nestor_job_duration_seconds',
      help: 'Job run duration in seconds, by job name',
      labelNames: ['name'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    const collectDepth = (gauge: Gauge<'name' | 'state'>): Promise<void> => this.collectDepth(gauge);
    new Gauge({
      name: 'nestor_job_queue_depth',
      help: 'Jobs in each queue by state, read from the job backend at scrape time',
      labelNames: ['name', 'state'] as const,
      registers,
      collect(this: Gauge<'name' | 'state'>) {
        return collectDepth(this);
      },
    });
  }

  /** Each job name's labelled series, looked up once: prom-client hashes the labels on every call otherwise. */
  private readonly series = new Map<
    string,
    { completed: Counter.Internal; failed: Counter.Internal; duration: Histogram.Internal<'name'> }
  >();

  /** Records one finished run. */
  observe(name: string, outcome: 'completed' | 'failed', seconds: number): void {
    let series = this.series.get(name);
    if (!series) {
      series = {
        completed: this.completed.labels({ name }),
        failed: this.failed.labels({ name }),
        duration: this.duration.labels({ name }),
      };
      this.series.set(name, series);
    }
    series[outcome].inc();
    series.duration.observe(seconds);
  }

  /** Where the depth gauge reads the queues from at scrape time. */
  readDepthWith(reader: DepthReader): void {
    this.readDepth = reader;
  }

  private async collectDepth(gauge: Gauge<'name' | 'state'>): Promise<void> {
    gauge.reset();
    if (!this.readDepth) {
      return; // no job backend: nothing to count
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), DEPTH_TIMEOUT_MS);
    });
    const read = this.readDepth();
    try {
      const result = await Promise.race([read, timeout]);
      for (const { name, counts } of result ?? []) {
        for (const state of DEPTH_STATES) {
          gauge.set({ name, state }, counts[state] ?? 0);
        }
      }
    } catch {
      // Redis unreachable or failing: the scrape still answers, without the gauge.
    } finally {
      clearTimeout(timer);
      read.catch(() => undefined); // a late failure after the timeout is not an unhandled rejection
    }
  }
}
