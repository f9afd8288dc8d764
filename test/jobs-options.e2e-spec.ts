import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, createTestApp } from 'src/framework/testing';
import { waitFor } from 'test/support/wait';
import { KeyPayload } from 'test/support/jobs';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('options');

const runs: { key: string; jobId: string }[] = [];

@Injectable()
class OptionJobs {
  @Job('options.keyed', { payload: KeyPayload, attempts: 1 })
  handle({ key }: KeyPayload, ctx: JobContext): Promise<void> {
    runs.push({ key, jobId: ctx.jobId });
    return Promise.resolve();
  }
}

@Injectable()
class TooHighPriority {
  @Job('options.too-high', { payload: KeyPayload, priority: 3_000_000 })
  handle(): Promise<void> {
    return Promise.resolve();
  }
}

const PRIORITY_RANGE = 'priority must be an integer from 0 to 2097151';
const DELAY_RANGE = 'delay must be an integer from 0 to 2147483647 ms';

describe('Jobs: options bullmq would refuse are refused at enqueue (NST-J008), never left unpublishable', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let jobs: JobsService;
  const rowCount = async () =>
    (
      await dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM job_outbox WHERE name = 'options.keyed'`,
      )
    )[0].n;

  beforeAll(async () => {
    t = await createTestApp(appWithProviders(OptionJobs), {
      env: { REDIS_URL, JOBS_PREFIX: PREFIX, WORKERS: 'inline' },
    });
    dataSource = t.app.get(DataSource);
    jobs = t.app.get(JobsService);
  });

  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  it.each([
    ['priority 3000000 (over bullmq 6 limit)', { priority: 3_000_000 }, `${PRIORITY_RANGE} (got 3000000)`],
    ['a negative priority', { priority: -1 }, `${PRIORITY_RANGE} (got -1)`],
    ['a fractional priority', { priority: 1.5 }, `${PRIORITY_RANGE} (got 1.5)`],
    ['a negative delay', { delay: -1000 }, `${DELAY_RANGE} (got -1000)`],
    ['a fractional delay', { delay: 1.5 }, `${DELAY_RANGE} (got 1.5)`],
    ['a NaN delay', { delay: NaN }, `${DELAY_RANGE} (got NaN)`],
    ['a delay over the outbox column (2^31 ms)', { delay: 2 ** 31 }, `${DELAY_RANGE} (got 2147483648)`],
  ])('refuses %s at enqueue and enqueueMany, writing no outbox row', async (_what, options, problem) => {
    const message = `NST-J008 Invalid options for job options.keyed: ${problem}`;
    await expect(jobs.enqueue('options.keyed', { key: 'refused' }, options)).rejects.toThrow(message);
    await expect(jobs.enqueueMany('options.keyed', [{ key: 'refused' }], options)).rejects.toThrow(message);
    expect(await rowCount()).toBe(0);
  });

  it('names every bad option at once', async () => {
    await expect(
      jobs.enqueue('options.keyed', { key: 'refused' }, { priority: -1, delay: -1 }),
    ).rejects.toThrow(
      `NST-J008 Invalid options for job options.keyed: ${PRIORITY_RANGE} (got -1); ${DELAY_RANGE} (got -1)`,
    );
  });

  it('accepts the edges of the ranges: priority 2097151 runs, a delay of 0 runs', async () => {
    const highest = await jobs.enqueue('options.keyed', { key: 'lowest-priority' }, { priority: 2_097_151 });
    const [undelayed] = await jobs.enqueueMany('options.keyed', [{ key: 'no-delay' }], {
      delay: 0,
      priority: 0,
    });
    await waitFor('both to run', () => [highest, undelayed].every((id) => runs.some((r) => r.jobId === id)));
    expect((await t.app.get(JobBackend).queue('options.keyed').getJob(highest))?.opts.priority).toBe(
      2_097_151,
    );
  });

  it('refuses to boot with a @Job priority bullmq would refuse (NST-J004)', async () => {
    await expect(createTestApp(appWithProviders(TooHighPriority))).rejects.toThrow(
      `NST-J004 TooHighPriority.handle: job "options.too-high" option ${PRIORITY_RANGE} (got 3000000)`,
    );
  });
});
