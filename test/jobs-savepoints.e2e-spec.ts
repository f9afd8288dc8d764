import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, createTestApp } from 'src/framework/testing';
import { sleep, waitFor } from 'test/support/wait';
import { KeyPayload } from 'test/support/jobs';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('jobs-savepoints');

const runs: { key: string; jobId: string }[] = [];

@Injectable()
class SavepointJobs {
  @Job('savepoints.job', { payload: KeyPayload, attempts: 1 })
  handle({ key }: KeyPayload, ctx: JobContext): Promise<void> {
    runs.push({ key, jobId: ctx.jobId });
    return Promise.resolve();
  }
}

const withSavepointJobs = appWithProviders(SavepointJobs);

describe.each(['redis', 'postgres'] as const)('jobs enqueued inside nested transactions (%s)', (backend) => {
  let t: TestApp;
  let jobs: JobsService;
  let dataSource: DataSource;
  let queues: JobBackend;

  beforeAll(async () => {
    t = await createTestApp(withSavepointJobs, {
      env: {
        ...(backend === 'redis' ? { REDIS_URL, JOBS_PREFIX: `${PREFIX}-${backend}` } : {}),
        WORKERS: 'inline',
        JOBS_SHUTDOWN_TIMEOUT: '3000',
      },
    });
    jobs = t.app.get(JobsService);
    dataSource = t.app.get(DataSource);
    queues = t.app.get(JobBackend);
  });

  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(REDIS_URL, `${PREFIX}-${backend}`);
  });

  it('a job enqueued in a savepoint whose outer transaction rolls back is never published nor run', async () => {
    let id = '';
    await expect(
      dataSource.transaction(async (outer) => {
        await outer.transaction(async (inner) => {
          id = await jobs.enqueue('savepoints.job', { key: `rolled-back-${backend}` }, {}, inner);
        });
        await sleep(300); // the rest of the outer transaction's work
        throw new Error('roll back the outer transaction');
      }),
    ).rejects.toThrow('roll back the outer transaction');
    expect(id).not.toBe('');
    const [row] = await dataSource.query('SELECT id FROM job_outbox WHERE id = $1', [id]);
    expect(row).toBeUndefined(); // the row never existed
    await sleep(1_500);
    expect(await queues.queue('savepoints.job').getJob(id)).toBeUndefined();
    expect(runs.filter((r) => r.key === `rolled-back-${backend}`)).toEqual([]);
  });

  it('a job enqueued in a savepoint is not published before the outer transaction commits', async () => {
    let id = '';
    let seenBeforeCommit: unknown;
    await dataSource.transaction(async (outer) => {
      await outer.transaction(async (inner) => {
        id = await jobs.enqueue('savepoints.job', { key: `committed-${backend}` }, {}, inner);
      });
      await sleep(500);
      seenBeforeCommit = (await queues.queue('savepoints.job').getJob(id))?.id;
    });
    expect(seenBeforeCommit).toBeUndefined();
  });

  it('a job enqueued in a savepoint of a committed transaction ends finished in the outbox (drain returns)', async () => {
    let id = '';
    await dataSource.transaction(async (outer) => {
      await outer.transaction(async (inner) => {
        id = await jobs.enqueue('savepoints.job', { key: `drained-${backend}` }, {}, inner);
      });
      await sleep(500); // e.g. the rest of the request's writes
    });
    await waitFor('the job to run', () => runs.some((r) => r.jobId === id));
    await jobs.drain(10_000);
  });

  it('a transaction whose COMMIT fails (deferred constraint) never publishes its job', async () => {
    await dataSource.query(`CREATE TABLE IF NOT EXISTS savepoints_parent (id int PRIMARY KEY)`);
    await dataSource.query(
      `CREATE TABLE IF NOT EXISTS savepoints_child (parent int REFERENCES savepoints_parent DEFERRABLE INITIALLY DEFERRED)`,
    );
    let id = '';
    await expect(
      dataSource.transaction(async (manager) => {
        id = await jobs.enqueue('savepoints.job', { key: `commit-fails-${backend}` }, {}, manager);
        await manager.query('INSERT INTO savepoints_child (parent) VALUES (42)'); // checked at COMMIT
      }),
    ).rejects.toThrow(/foreign key/);
    await sleep(1_000);
    expect(await queues.queue('savepoints.job').getJob(id)).toBeUndefined();
    expect(runs.filter((r) => r.key === `commit-fails-${backend}`)).toEqual([]);
  });

  it('a savepoint rolled back inside a committed transaction does not hold back the jobs the outer transaction enqueued', async () => {
    let id = '';
    await dataSource.transaction(async (outer) => {
      id = await jobs.enqueue('savepoints.job', { key: `outer-${backend}` }, {}, outer);
      await outer
        .transaction(async () => Promise.reject(new Error('roll back the savepoint only')))
        .catch(() => undefined);
    });
    const committed = Date.now();
    await waitFor('the outer job to run', () => runs.some((r) => r.jobId === id), 15_000);
    // Published at commit, it runs at once; left to the sweeper, it waits 5 s or more.
    expect(Date.now() - committed).toBeLessThan(2_000);
  });
});
