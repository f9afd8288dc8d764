import { randomBytes } from 'node:crypto';
import { DynamicModule, Injectable, Module } from '@nestjs/common';
import { IsString } from 'class-validator';
import { AppModule } from 'src/app.module';
import { LoadedConfig } from 'src/framework/config/load-config';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, TestAppOptions, TestUser, createTestApp, createTestUser } from 'src/framework/testing';
import { waitFor } from 'test/support/wait';
import { deleteRedisKeys } from 'test/support/redis';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `jobs-admin-${process.pid}-${randomBytes(3).toString('hex')}`;
const FAILS = 'admintest.fails';
const OK = 'admintest.ok';
const CRON = 'admintest.yearly';

class KeyPayload {
  @IsString()
  key!: string;
}

class EmptyPayload {}

/** Keys whose failing job succeeds from now on (set before a retry). */
const healed = new Set<string>();

@Injectable()
class AdminTestJobs {
  @Job(FAILS, { payload: KeyPayload, attempts: 2, backoff: 10 })
  fails({ key }: KeyPayload, ctx: JobContext): Promise<void> {
    if (!healed.has(key)) {
      return Promise.reject(new Error(`planned failure of ${key} (attempt ${ctx.attempt})`));
    }
    return Promise.resolve();
  }

  @Job(OK, { payload: KeyPayload })
  ok(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 5));
  }

  @Job(CRON, { payload: EmptyPayload, cron: '0 0 1 1 *', attempts: 1 })
  yearly(): Promise<void> {
    return Promise.resolve();
  }
}

@Module({ providers: [AdminTestJobs] })
class AdminTestJobsModule {}

function withTestJobs(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), AdminTestJobsModule] };
}

interface QueueBody {
  name: string;
  counts: Record<string, number>;
  schedule: { cron: string; next: string | null } | null;
}
interface JobBody {
  id: string;
  name: string;
  state: string;
  payload: { key: string };
  attempts: number;
  maxAttempts: number;
  failedReason: string | null;
  stacktrace: string[];
  createdAt: string;
  processedAt: string | null;
  finishedAt: string | null;
}

type Backend = 'redis' | 'postgres' | 'outbox';

const backendOptions = (backend: Backend): TestAppOptions =>
  backend === 'redis'
    ? { env: { REDIS_URL, JOBS_PREFIX: PREFIX, WORKERS: 'inline' } }
    : backend === 'postgres'
      ? { env: { WORKERS: 'inline' } } // bullmq's PostgreSQL backend on the test database
      : { database: 'embedded' }; // development mode: the outbox is the queue

describe.each<Backend>(['redis', 'postgres', 'outbox'])('Jobs admin API and metrics (%s)', (backend) => {
  let t: TestApp;
  let jobs: JobsService;
  let staff: TestUser;

  const get = (url: string) => t.inject({ url: `/admin/api/jobs${url}` });
  const queueOf = async (name: string): Promise<QueueBody> =>
    (await get('/queues')).json<QueueBody[]>().find((q) => q.name === name)!;
  const failedJob = (id: string) =>
    waitFor(`job ${id} failed`, async () =>
      (await get(`/queues/${FAILS}/jobs?state=failed`))
        .json<{ items: JobBody[] }>()
        .items.find((j) => j.id === id),
    );

  beforeAll(async () => {
    healed.clear();
    t = await createTestApp(withTestJobs, { as: 'superuser', ...backendOptions(backend) });
    jobs = t.app.get(JobsService);
    staff = await createTestUser(t.app, { isStaff: true });
  });

  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  it('is for staff and superusers only', async () => {
    const anonymous = await t.inject({
      url: '/admin/api/jobs/queues',
      headers: { authorization: undefined },
    });
    expect(anonymous.statusCode).toBe(401);
    const user = await createTestUser(t.app);
    const plain = await t.inject({ url: '/admin/api/jobs/queues', headers: user.headers });
    expect(plain.statusCode).toBe(403);
    expect(plain.headers['content-type']).toContain('application/problem+json');
    const asStaff = await t.inject({ url: '/admin/api/jobs/schedules', headers: staff.headers });
    expect(asStaff.statusCode).toBe(200);
    expect((await get('/queues')).statusCode).toBe(200); // superuser
  });

  it('counts jobs by state and shows a failed job with its error and attempts', async () => {
    await jobs.enqueue(OK, { key: 'a' });
    await jobs.enqueue(OK, { key: 'b' });
    const id = await jobs.enqueue(FAILS, { key: 'one' });
    await waitFor('2 completed', async () => (await queueOf(OK)).counts.completed === 2);

    const failed = await failedJob(id);
    expect(failed).toMatchObject({
      id,
      name: FAILS,
      state: 'failed',
      payload: { key: 'one' },
      attempts: 2,
      maxAttempts: 2,
      failedReason: 'planned failure of one (attempt 2)',
    });
    if (backend !== 'outbox') {
      // bullmq keeps each failed run's stack (the development-mode outbox keeps the last message only).
      expect(failed.stacktrace.length).toBeGreaterThan(0);
      expect(failed.stacktrace[0]).toContain('planned failure of one');
      expect(failed.stacktrace[0].split('\n').length).toBeLessThanOrEqual(8);
    }
    expect(Date.parse(failed.createdAt)).not.toBeNaN();
    expect(failed.finishedAt).not.toBeNull();

    const queue = await queueOf(FAILS);
    expect(queue.counts).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      completed: 0,
      failed: 1,
      paused: 0,
      prioritized: 0,
    });
    expect(queue.schedule).toBeNull();
    expect((await queueOf(OK)).counts).toMatchObject({ completed: 2, failed: 0 });
  });

  it('retries a failed job (409 when it is not failed)', async () => {
    const id = await jobs.enqueue(FAILS, { key: 'two' });
    await failedJob(id);
    healed.add('two');
    const retry = await t.inject({ method: 'POST', url: `/admin/api/jobs/queues/${FAILS}/jobs/${id}/retry` });
    expect(retry.statusCode).toBe(200);
    expect(retry.json<JobBody>().id).toBe(id);
    await waitFor('the retried job completed', async () =>
      (await get(`/queues/${FAILS}/jobs?state=completed`))
        .json<{ items: JobBody[] }>()
        .items.find((j) => j.id === id),
    );
    const one = await get(`/queues/${FAILS}/jobs/${id}`);
    expect(one.json()).toMatchObject({ id, name: FAILS, state: 'completed' });
    expect((await get(`/queues/${FAILS}/jobs/00000000-0000-4000-8000-000000000000`)).statusCode).toBe(404);
    const again = await t.inject({ method: 'POST', url: `/admin/api/jobs/queues/${FAILS}/jobs/${id}/retry` });
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toContain('application/problem+json');
  });

  it('removes a job; unknown queues and jobs are 404 problems', async () => {
    const id = await jobs.enqueue(FAILS, { key: 'three' });
    await failedJob(id);
    const removed = await t.inject({ method: 'DELETE', url: `/admin/api/jobs/queues/${FAILS}/jobs/${id}` });
    expect(removed.statusCode).toBe(204);
    const list = (await get(`/queues/${FAILS}/jobs?state=failed&limit=100`)).json<{ items: JobBody[] }>();
    expect(list.items.map((j) => j.id)).not.toContain(id);

    const gone = await t.inject({ method: 'POST', url: `/admin/api/jobs/queues/${FAILS}/jobs/${id}/retry` });
    expect(gone.statusCode).toBe(404);
    expect(gone.headers['content-type']).toContain('application/problem+json');
    expect(
      (await t.inject({ method: 'DELETE', url: `/admin/api/jobs/queues/${FAILS}/jobs/${id}` })).statusCode,
    ).toBe(404);
    const unknown = await get('/queues/no.such-job/jobs');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ status: 404, title: 'Not found' });
    expect((await get(`/queues/${FAILS}/jobs?state=bogus`)).statusCode).toBe(400);
  });

  it('pages jobs by state', async () => {
    const page = (await get(`/queues/${OK}/jobs?state=completed&limit=1&offset=1`)).json<{
      items: JobBody[];
      total: number;
    }>();
    expect(page.total).toBe(2);
    expect(page.items).toHaveLength(1);
  });

  it('lists schedules with their next run', async () => {
    const schedules = (await get('/schedules')).json<{ name: string; cron: string; next: string | null }[]>();
    const yearly = schedules.find((s) => s.name === CRON);
    expect(yearly).toMatchObject({
      cron: '0 0 1 1 *',
      key: `cron:${CRON}`,
      declared: true,
      registered: true,
    });
    expect(new Date(yearly!.next!).getUTCDate()).toBeGreaterThan(0);
    expect(Date.parse(yearly!.next!)).toBeGreaterThan(Date.now());
    expect((await queueOf(CRON)).schedule).toMatchObject({ cron: '0 0 1 1 *' });
  });

  it('exposes job metrics in GET /metrics', async () => {
    const text = (await t.inject({ url: '/metrics', headers: { authorization: undefined } })).body;
    expect(text).toContain(`nestor_jobs_completed_total{name="${OK}"} 2`);
    // 3 failing jobs × 2 attempts, then the healed retry completed.
    expect(text).toContain(`nestor_jobs_failed_total{name="${FAILS}"} 6`);
    expect(text).toContain(`nestor_jobs_completed_total{name="${FAILS}"} 1`);
    expect(text).toMatch(new RegExp(`nestor_job_duration_seconds_bucket\\{le="\\+Inf",name="${OK}"\\} 2`));
    expect(text).toContain(`nestor_job_duration_seconds_count{name="${FAILS}"} 7`);
    expect(text).toContain(`nestor_job_queue_depth{name="${FAILS}",state="failed"} 1`);
    expect(text).toContain(`nestor_job_queue_depth{name="${OK}",state="waiting"} 0`);
  });
});
