import type { NestorDataProvider } from '../providers/dataProvider';

export interface JobOutcome {
  state: 'completed' | 'failed' | 'unknown';
  failedReason?: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => window.setTimeout(resolve, ms));

/**
 * Polls the jobs API until the job shows up as completed or failed. The API lists jobs by state (there is
 * no GET of one job), so each round looks for it among the newest finished ones.
 */
export async function waitForJob(
  dataProvider: NestorDataProvider,
  queue: string,
  jobId: string,
  { interval = 1500, timeout = 10 * 60_000 } = {},
): Promise<JobOutcome> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    await sleep(interval);
    for (const state of ['completed', 'failed'] as const) {
      const list = await dataProvider.jobs(queue, state, 100);
      const job = list.items.find((item) => item.id === jobId);
      if (job) {
        return { state, failedReason: job.failedReason };
      }
    }
    interval = Math.min(interval * 1.5, 10_000);
  }
  return { state: 'unknown' };
}
