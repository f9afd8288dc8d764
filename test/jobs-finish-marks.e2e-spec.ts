import { Injectable } from '@nestjs/common';
import { IsString } from 'class-validator';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, createTestApp } from 'src/framework/testing';
import { sleep, waitFor } from 'test/support/wait';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('finish-marks');

class VersionPayload {
  @IsString()
  version!: string;
}

const runs: { version: string; jobId: string }[] = [];

@Injectable()
class DedupeJobs {
  @Job('marks.dedupe', { payload: VersionPayload, attempts: 1 })
  handle({ version }: VersionPayload, ctx: JobContext): Promise<void> {
    runs.push({ version, jobId: ctx.jobId });
    return Promise.resolve();
  }
}

const withJobs = appWithProviders(DedupeJobs);

describe('Jobs: a batched completion mark that fails (database blip) is retried', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let jobs: JobsService;

  beforeAll(async () => {
    t = await createTestApp(withJobs, { env: { REDIS_URL, JOBS_PREFIX: PREFIX, WORKERS: 'inline' } });
    dataSource = t.app.get(DataSource);
    jobs = t.app.get(JobsService);
  });

  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  it('enqueueing a dedupe key again after its job completed runs the new job (it is not swallowed)', async () => {
    // The batched completion UPDATE of this key's rows fails, as in a connection reset, while the trigger exists.
    await dataSource.query(`
      CREATE FUNCTION marks_blip() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'marks: database blip'; END $$;
      CREATE TRIGGER marks_blip BEFORE UPDATE ON job_outbox FOR EACH ROW
        WHEN (OLD."dedupeKey" = 'marks:blip' AND OLD."finishedAt" IS NULL AND NEW."finishedAt" IS NOT NULL)
        EXECUTE FUNCTION marks_blip();`);
    const first = await jobs.enqueue('marks.dedupe', { version: '1' }, { dedupeKey: 'marks:blip' });
    await waitFor('version 1 to run', () => runs.some((r) => r.version === '1'));
    const queue = t.app.get(JobBackend).queue('marks.dedupe');
    await waitFor(
      'version 1 completed in the queue',
      async () => (await (await queue.getJob(first))?.getState()) === 'completed',
    );
    await sleep(300); // the batched mark was tried (10 ms) and failed, and its retries too
    const finishedAt = 'SELECT "finishedAt" FROM job_outbox WHERE id = $1';
    expect(await dataSource.query(finishedAt, [first])).toEqual([{ finishedAt: null }]);
    await dataSource.query('DROP TRIGGER marks_blip ON job_outbox; DROP FUNCTION marks_blip();');

    // The database is fine again: the retry marks job 1 finished within its backoff (a few seconds at most).
    await waitFor(
      'the mark of version 1 to land',
      async () => (await dataSource.query<{ finishedAt: Date | null }[]>(finishedAt, [first]))[0].finishedAt,
      10_000,
    );
    const second = await jobs.enqueue('marks.dedupe', { version: '2' }, { dedupeKey: 'marks:blip' });
    expect(second).not.toBe(first);
    await waitFor('version 2 to run', () => runs.some((r) => r.version === '2'), 10_000);
  });
});
