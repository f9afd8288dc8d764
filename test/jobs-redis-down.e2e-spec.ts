import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, createTestApp } from 'src/framework/testing';
import { sleep, waitFor } from 'test/support/wait';
import { KeyPayload } from 'test/support/jobs';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { FrozenProxy } from 'test/support/frozen-proxy';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('jobs-down');

const runs: { key: string; jobId: string }[] = [];

@Injectable()
class DownJobs {
  @Job('redis-down.down', { payload: KeyPayload, attempts: 1 })
  handle({ key }: KeyPayload, ctx: JobContext): Promise<void> {
    runs.push({ key, jobId: ctx.jobId });
    return Promise.resolve();
  }
}

const withJobs = appWithProviders(DownJobs);

describe('jobs: Redis unreachable when the enqueueing transaction commits', () => {
  let t: TestApp;
  let proxy: FrozenProxy;

  beforeAll(async () => {
    proxy = await FrozenProxy.start(6379);
    t = await createTestApp(withJobs, {
      env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, JOBS_PREFIX: PREFIX, WORKERS: 'inline' },
    });
  });

  afterAll(async () => {
    await t?.close();
    await proxy?.close().catch(() => undefined);
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  it('commits at once; once Redis is back every job runs exactly once under its outbox id', async () => {
    const jobs = t.app.get(JobsService);
    const dataSource = t.app.get(DataSource);
    await proxy.cut();
    const started = Date.now();
    const single = await dataSource.transaction((m) =>
      jobs.enqueue('redis-down.down', { key: 'single' }, {}, m),
    );
    const many = await dataSource.transaction((m) =>
      jobs.enqueueMany('redis-down.down', [{ key: 'm1' }, { key: 'm2' }], {}, m),
    );
    const outside = await jobs.enqueue('redis-down.down', { key: 'outside' });
    expect(Date.now() - started).toBeLessThan(1_000);
    await sleep(8_000); // the sweeper (rows older than 5 s) tries too, while Redis is away
    await proxy.restore();
    const ids = [single, ...many, outside];
    await waitFor('every job to run', () => ids.every((id) => runs.some((r) => r.jobId === id)), 30_000);
    await jobs.drain(15_000);
    await sleep(500);
    expect(ids.map((id) => runs.filter((r) => r.jobId === id).length)).toEqual([1, 1, 1, 1]);
    const unpublished = await dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM job_outbox WHERE "publishedAt" IS NULL',
    );
    expect(unpublished[0].n).toBe(0);
  }, 60_000);
});
