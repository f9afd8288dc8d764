import { rmSync } from 'node:fs';
import { DynamicModule, Injectable, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { LoadedConfig } from 'src/framework/config/load-config';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { MailService } from 'src/framework/mail/mail.service';
import { TestApp, createTestApp } from 'src/framework/testing';
import { sleep, waitFor } from 'test/support/wait';
import { FlakyPayload } from 'test/support/flaky-payload';

class EmptyPayload {}

const runs: { key: string; attempt: number; at: number }[] = [];
const ticks: string[] = [];

@Injectable()
class InlineJobs {
  @Job('inline.flaky', { payload: FlakyPayload, attempts: 3, backoff: 100 })
  async flaky({ key, failures }: FlakyPayload, context: JobContext): Promise<void> {
    runs.push({ key, attempt: context.attempt, at: Date.now() });
    if (context.attempt <= failures) {
      throw new Error(`planned failure ${context.attempt}`);
    }
    await context.once(`inline:${key}`, () => Promise.resolve());
  }

  @Job('inline.tick', { payload: EmptyPayload, cron: '* * * * * *', attempts: 1 })
  tick(_payload: EmptyPayload, context: JobContext): Promise<void> {
    ticks.push(context.jobId);
    return Promise.resolve();
  }
}

@Module({ providers: [InlineJobs] })
class InlineJobsModule {}

function withInlineJobs(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), InlineJobsModule] };
}

/** Without REDIS_URL (the embedded default) jobs still run: this process takes them from the outbox. */
describe('Jobs without Redis: the development-mode runner on embedded PGlite', () => {
  let t: TestApp;
  let jobs: JobsService;
  let dataSource: DataSource;
  const row = async (id: string) =>
    (
      await dataSource.query<{ attempts: number; finishedAt: Date | null; lastError: string | null }[]>(
        'SELECT attempts, "finishedAt", "lastError" FROM job_outbox WHERE id = $1',
        [id],
      )
    )[0];
  const runsOf = (key: string) => runs.filter((r) => r.key === key);

  beforeAll(async () => {
    t = await createTestApp(withInlineJobs, { database: 'embedded', as: 'superuser' });
    jobs = t.app.get(JobsService);
    dataSource = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true }); // the last app was given the data dir
  });

  it('runs the order confirmation flow end to end', async () => {
    const post = (url: string, payload: object) => t.inject({ method: 'POST', url, payload });
    const category = (await post('/api/categories', { name: 'Inline', slug: 'inline' })).json<{
      id: number;
    }>();
    const product = (
      await post('/api/products', {
        name: 'Mug',
        sku: 'INL-1',
        price: '4.00',
        stock: 9,
        status: 'active',
        categoryId: category.id,
      })
    ).json<{ id: number }>();
    const order = await post('/api/orders', { items: [{ productId: product.id, quantity: 2 }] });
    expect(order.statusCode).toBe(201);
    const orderId = order.json<{ id: number }>().id;
    await waitFor('the confirmation mail', () =>
      t.app
        .get(MailService)
        .sent()
        .find((m) => m.subject === `Your order #${orderId}`),
    );
    await sleep(500);
    expect(
      t.app
        .get(MailService)
        .sent()
        .filter((m) => m.subject === `Your order #${orderId}`),
    ).toHaveLength(1);
  });

  it('retries with backoff until success, and records the attempts', async () => {
    const id = await jobs.enqueue('inline.flaky', { key: 'twice', failures: 2 });
    await waitFor('the job to finish', async () => (await row(id))?.finishedAt);
    expect(runsOf('twice').map((r) => r.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = runsOf('twice').map((r) => r.at);
    expect(second - first).toBeGreaterThanOrEqual(50); // backoff 100 ms with jitter in [50 %, 100 %]
    expect(third - second).toBeGreaterThanOrEqual(100);
    expect(await row(id)).toMatchObject({ attempts: 3, lastError: 'planned failure 2' });
  });

  it('gives up after the declared attempts and keeps the error for inspection', async () => {
    const id = await jobs.enqueue('inline.flaky', { key: 'never', failures: 99 });
    await waitFor('the job to fail for good', async () => (await row(id))?.finishedAt);
    await sleep(400);
    expect(runsOf('never')).toHaveLength(3);
    expect(await row(id)).toMatchObject({ attempts: 3, lastError: 'planned failure 3' });
  });

  it('does not run a job enqueued in a rolled-back transaction, and runs a delayed one after its delay', async () => {
    await expect(
      dataSource.transaction(async (manager) => {
        await jobs.enqueue('inline.flaky', { key: 'rolled-back', failures: 0 }, {}, manager);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    const started = Date.now();
    const id = await jobs.enqueue('inline.flaky', { key: 'delayed', failures: 0 }, { delay: 700 });
    await waitFor('the delayed job', async () => (await row(id))?.finishedAt);
    expect(runsOf('delayed')[0].at - started).toBeGreaterThanOrEqual(650);
    expect(runsOf('rolled-back')).toHaveLength(0);
  });

  it('fires cron schedules once per due time, and shows them with their next run', async () => {
    const seen = ticks.length;
    await waitFor('two more ticks', () => ticks.length >= seen + 2, 10_000);
    expect(new Set(ticks).size).toBe(ticks.length); // each tick is its own job
    const [tick] = await dataSource.query<{ finishedAt: Date | null; failedAt: Date | null }[]>(
      'SELECT "finishedAt", "failedAt" FROM job_outbox WHERE id = $1',
      [ticks[seen]],
    );
    expect(tick).toMatchObject({ finishedAt: expect.any(Date), failedAt: null });
    const schedules = (await t.inject('/admin/api/jobs/schedules')).json<{ name: string; next: string }[]>();
    const declared = schedules.find((s) => s.name === 'inline.tick');
    expect(declared).toMatchObject({ cron: '* * * * * *', declared: true, registered: true });
    expect(Date.parse(declared!.next) - Date.now()).toBeLessThan(2_000);
  });

  it('drops the schedule of a job deleted from the code at the next boot', async () => {
    await t.close({ keepData: true });
    t = await createTestApp((config) => AppModule.forRoot(config), {
      database: 'embedded',
      dataDir: t.dataDir,
      as: 'superuser',
    });
    dataSource = t.app.get(DataSource);
    const names = await dataSource.query<{ name: string }[]>('SELECT name FROM job_schedule ORDER BY name');
    expect(names).toEqual([{ name: 'reports.daily-sales' }]);
    const tickRows = "SELECT count(*)::int AS n FROM job_outbox WHERE name = 'inline.tick'";
    const [before] = await dataSource.query<{ n: number }[]>(tickRows);
    await sleep(1_500);
    expect(await dataSource.query(tickRows)).toEqual([before]); // nothing enqueues it any more
  });
});
