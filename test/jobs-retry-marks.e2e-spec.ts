import { Injectable } from '@nestjs/common';
import { Job as BullJob } from 'bullmq';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { OutboxPublisher } from 'src/framework/jobs/outbox-publisher';
import { TestApp, TestAppOptions, createTestApp } from 'src/framework/testing';
import { sleep, waitFor } from 'test/support/wait';
import { KeyPayload } from 'test/support/jobs';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('jobs-retry-marks');
const JOB = 'retrymarks.job';
/** How long the outbox's next write takes once slowed (a busy pool, a slow link to the database). */
const SLOW_MS = 1_000;

/** A key's runs so far; a key in `holding` waits for its release instead of failing. */
const runs = new Map<string, number>();
const holding = new Map<string, Promise<void>>();
/** Ends every held run (after each test: a failed one must not hold the app's shutdown). */
const releases: (() => void)[] = [];

@Injectable()
class RetryMarkJobs {
  @Job(JOB, { payload: KeyPayload, attempts: 1 })
  async handle({ key }: KeyPayload, ctx: JobContext): Promise<void> {
    runs.set(key, (runs.get(key) ?? 0) + 1);
    const hold = holding.get(key);
    if (hold) {
      return hold;
    }
    throw new Error(`planned failure of ${key} (attempt ${ctx.attempt})`);
  }
}

const withJobs = appWithProviders(RetryMarkJobs);

interface Marks {
  finished: boolean;
  failed: boolean;
  lastError: string | null;
}

type Backend = 'redis' | 'postgres';
const backendOptions: Record<Backend, TestAppOptions> = {
  redis: { env: { REDIS_URL, JOBS_PREFIX: PREFIX, WORKERS: 'inline' } },
  postgres: { env: { WORKERS: 'inline' } }, // bullmq's PostgreSQL backend on the test database
};

/**
 * Staff retrying a failed job from the jobs API: the job's outbox row (what the lost-job recovery watches,
 * what holds its dedupe key, what drain() waits for) must end up saying how the retry ended.
 */
describe.each<Backend>(['redis', 'postgres'])('Jobs API: the outbox row of a retried job (%s)', (backend) => {
  let t: TestApp;
  let dataSource: DataSource;
  let jobs: JobsService;

  const retry = (id: string) =>
    t.inject({ method: 'POST', url: `/admin/api/jobs/queues/${JOB}/jobs/${id}/retry` });
  const marks = async (id: string): Promise<Marks> =>
    (
      await dataSource.query<Marks[]>(
        `SELECT "finishedAt" IS NOT NULL AS finished, "failedAt" IS NOT NULL AS failed, "lastError"
           FROM job_outbox WHERE id = $1`,
        [id],
      )
    )[0];
  /** A job that failed, with its outbox row marked so. */
  const failedJob = async (key: string): Promise<string> => {
    const id = await jobs.enqueue(JOB, { key }, { dedupeKey: key });
    await waitFor(`job ${key} marked failed`, async () => (await marks(id)).failed);
    return id;
  };
  /** The queue's view, through the jobs API. */
  const shown = async (id: string) =>
    (await t.inject({ url: `/admin/api/jobs/queues/${JOB}/jobs/${id}` })).json<{
      state: string;
      attempts: number;
    }>();

  beforeAll(async () => {
    t = await createTestApp(withJobs, { as: 'superuser', ...backendOptions[backend] });
    dataSource = t.app.get(DataSource);
    jobs = t.app.get(JobsService);
    // Only the writes under test touch the outbox (the sweep's settling would hide a wrong row in time).
    t.app.get(OutboxPublisher).stopSweeper();
    // Slows the next UPDATE of the outbox once armed, before it takes any row lock: the write that comes
    // first then lands last, as any mark can when its connection is slow.
    await dataSource.query(`
      CREATE SEQUENCE slow_mark;
      CREATE FUNCTION slow_mark() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF nextval('slow_mark') = 1 THEN PERFORM pg_sleep(${SLOW_MS / 1000}); END IF; RETURN NULL; END $$;
      CREATE TRIGGER slow_mark BEFORE UPDATE ON job_outbox FOR EACH STATEMENT EXECUTE FUNCTION slow_mark();`);
    await dataSource.query('SELECT nextval($1)', ['slow_mark']); // disarmed
  });

  afterAll(async () => {
    await t?.close();
    if (backend === 'redis') {
      await deleteRedisKeys(REDIS_URL, PREFIX);
    }
  });

  afterEach(() => {
    jest.restoreAllMocks();
    releases.splice(0).forEach((release) => release());
  });

  const slowNextWrite = () => dataSource.query(`SELECT setval('slow_mark', 1, false)`);

  it('a retried job that fails again at once is failed in the outbox, and its dedupe key is free again', async () => {
    const key = `again-${backend}`;
    const id = await failedJob(key);

    await slowNextWrite();
    expect((await retry(id)).statusCode).toBe(200);
    await waitFor('the retried run to fail', async () => {
      const job = await shown(id);
      return job.state === 'failed' && job.attempts === 2;
    });
    await sleep(SLOW_MS + 500); // every mark under way has landed

    expect(await marks(id)).toEqual({
      finished: true,
      failed: true,
      lastError: `planned failure of ${key} (attempt 2)`,
    });
    expect(await jobs.enqueue(JOB, { key }, { dedupeKey: key })).not.toBe(id);
  });

  it('a retry the queue refuses leaves the row failed (409)', async () => {
    const key = `refused-${backend}`;
    const id = await failedJob(key);
    jest.spyOn(BullJob.prototype, 'retry').mockRejectedValueOnce(new Error('Connection is closed.'));

    const refused = await retry(id);
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ detail: string }>().detail).toContain('Connection is closed.');
    expect(await marks(id)).toEqual({
      finished: true,
      failed: true,
      lastError: `planned failure of ${key} (attempt 1)`,
    });
    expect(runs.get(key)).toBe(1);
  });

  it('a retry whose answer was lost leaves the row watched while the job runs, then finished', async () => {
    const key = `lost-answer-${backend}`;
    const id = await failedJob(key);
    holding.set(key, new Promise<void>((resolve) => releases.push(resolve)));
    const real = BullJob.prototype.retry;
    jest.spyOn(BullJob.prototype, 'retry').mockImplementationOnce(async function (this: BullJob, state) {
      await real.call(this, state); // retried, then the connection drops before the answer
      throw new Error('Connection is closed.');
    });

    expect((await retry(id)).statusCode).toBe(409);
    await waitFor('the retried run to start', () => runs.get(key) === 2);
    expect(await marks(id)).toMatchObject({ finished: false, failed: false });

    releases.splice(0).forEach((release) => release());
    await waitFor('the retried job to complete', async () => (await shown(id)).state === 'completed');
    await waitFor('its row marked finished', async () => (await marks(id)).finished);
    expect(await marks(id)).toMatchObject({ finished: true, failed: false });
  });
});
