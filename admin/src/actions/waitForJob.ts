import type { NestorDataProvider } from '../providers/dataProvider';

export interface JobOutcome {
  state: 'completed' | 'failed' | 'unknown';
  failedReason?: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => window.setTimeout(resolve, ms));

/** Follows a job (`GET /admin/api/jobs/queues/:queue/jobs/:id`) until it has completed or failed. */
export async function waitForJob(
  dataProvider: NestorDataProvider,
  queue: string,
  jobId: string,
  { interval = 1000, timeout = 10 * 60_000 } = {},
): Promise<JobOutcome> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    await sleep(interval);
    const job = await dataProvider.job(queue, jobId);
    if (job.state === 'completed' || job.state === 'failed') {
      return { state: job.state, failedReason: job.failedReason };
    }
    interval = Math.min(interval * 1.5, 5_000);
  }
  return { state: 'unknown' };
}
