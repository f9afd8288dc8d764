import { randomBytes } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { createPostgresBackend, Queue, withBackend } from 'bullmq';
import { IsInt, IsString, Min } from 'class-validator';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { Job, JobContext, JobOptions } from 'src/framework/jobs/job.decorator';
import { JobPayloadError } from 'src/framework/jobs/job.registry';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { OutboxPublisher } from 'src/framework/jobs/outbox-publisher';
import { MailService } from 'src/framework/mail/mail.service';
import { TestApp, createTestApp, createTestDatabase } from 'src/framework/testing';
import { sleep, waitFor } from 'test/support/wait';
import { deleteRedisKeys } from 'test/support/redis';
import { FlakyPayload } from 'test/support/flaky-payload';
import { FrozenProxy } from 'test/support/frozen-proxy';
import { appWith, appWithProviders } from 'test/support/app-with';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `jobs-test-${process.pid}-${randomBytes(3).toString('hex')}`;
/** The graceful-shutdown app has queues of its own: its workers must not take the main app's jobs. */
const SHUTDOWN_PREFIX = `${PREFIX}-b`;
/** The app whose Redis goes away. */
const GONE_PREFIX = `${PREFIX}-c`;

class CountPayload {
  @IsString()
  key!: string;
}

class SlowPayload {
  @IsString()
  key!: string;

  @IsInt()
  @Min(0)
  ms!: number;
}

class EmptyPayload {}

interface Run {
  job: string;
  key: string;
  jobId: string;
  attempt: number;
  at: number;
}

/** Every handler call, in order (including failed attempts). */
const runs: Run[] = [];
const ticks: number[] = [];
const slowDone: string[] = [];
const effectKeys: { key: string; idempotencyKey: string }[] = [];

const runsOf = (job: string, key: string): Run[] => runs.filter((r) => r.job === job && r.key === key);

@Injectable()
class TestJobs {
  @Job('test.count', { payload: CountPayload })
  async count({ key }: CountPayload, ctx: JobContext): Promise<void> {
    runs.push({ job: 'test.count', key, jobId: ctx.jobId, attempt: ctx.attempt, at: Date.now() });
    await ctx.once(`count:${key}`, () => Promise.resolve());
  }

  @Job('test.flaky', { payload: FlakyPayload, attempts: 5, backoff: 50 })
  async flaky({ key, failures }: FlakyPayload, ctx: JobContext): Promise<void> {
    runs.push({ job: 'test.flaky', key, jobId: ctx.jobId, attempt: ctx.attempt, at: Date.now() });
    // The failure happens inside the effect, as an outside call whose commit never came: the retry makes the
    // call again, with the same idempotency key.
    await ctx.once(`flaky:${key}`, (_manager, idempotencyKey) => {
      effectKeys.push({ key, idempotencyKey });
      return ctx.attempt <= failures
        ? Promise.reject(new Error(`planned failure ${ctx.attempt}/${failures}`))
        : Promise.resolve();
    });
  }

  @Job('test.slow', { payload: SlowPayload, attempts: 1 })
  async slow({ key, ms }: SlowPayload, ctx: JobContext): Promise<void> {
    runs.push({ job: 'test.slow', key, jobId: ctx.jobId, attempt: ctx.attempt, at: Date.now() });
    await sleep(ms);
    if (await ctx.once(`slow:${key}`, () => Promise.resolve())) {
      slowDone.push(key);
    }
  }

  @Job('test.tick', { payload: EmptyPayload, cron: '* * * * * *', attempts: 1 })
  tick(): Promise<void> {
    ticks.push(Date.now());
    return Promise.resolve();
  }
}

@Module({ providers: [TestJobs] })
class TestJobsModule {}

@Injectable()
class FirstCount {
  @Job('test.dup', { payload: CountPayload })
  handle(): Promise<void> {
    return Promise.resolve();
  }
}

@Injectable()
class SecondCount {
  @Job('test.dup', { payload: CountPayload })
  handle(): Promise<void> {
    return Promise.resolve();
  }
}

@Injectable()
class BadCron {
  @Job('test.bad-cron', { payload: EmptyPayload, cron: '61 * * * *' })
  handle(): Promise<void> {
    return Promise.resolve();
  }
}

/** One character more than the admin's job routes can address (a path segment of at most 100). */
@Injectable()
class LongName {
  @Job(`test.${'x'.repeat(96)}`, { payload: EmptyPayload })
  handle(): Promise<void> {
    return Promise.resolve();
  }
}

const noPayload = { attempts: 1 } as JobOptions; // what a plain-JS caller could pass

@Injectable()
class NoPayload {
  @Job('test.no-payload', noPayload)
  handle(): Promise<void> {
    return Promise.resolve();
  }
}

const withTestJobs = appWith(TestJobsModule);

type Backend = 'redis' | 'postgres';

/** Without REDIS_URL, a test app on its PostgreSQL database gets bullmq's PostgreSQL backend. */
const jobsEnv = (backend: Backend, prefix: string): Record<string, string> => ({
  ...(backend === 'redis' ? { REDIS_URL, JOBS_PREFIX: prefix } : {}),
  WORKERS: 'inline',
  JOBS_SHUTDOWN_TIMEOUT: '5000',
});

describe.each<Backend>(['redis', 'postgres'])(
  'Jobs on bullmq (%s), with the transactional outbox',
  (backend) => {
    let t: TestApp;
    let jobs: JobsService;
    let queues: JobBackend;
    let publisher: OutboxPublisher;
    let dataSource: DataSource;

    const outboxRow = async (id: string): Promise<{ publishedAt: Date | null } | undefined> =>
      (
        await dataSource.query<{ publishedAt: Date | null }[]>(
          'SELECT "publishedAt" FROM job_outbox WHERE id = $1',
          [id],
        )
      )[0];
    const outboxCount = async (): Promise<number> =>
      (await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM job_outbox'))[0].n;
    const effectCount = async (key: string): Promise<number> =>
      (
        await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM job_effect WHERE key = $1', [
          key,
        ])
      )[0].n;

    beforeAll(async () => {
      runs.length = 0;
      ticks.length = 0;
      slowDone.length = 0;
      effectKeys.length = 0;
      t = await createTestApp(withTestJobs, { as: 'superuser', env: jobsEnv(backend, PREFIX) });
      jobs = t.app.get(JobsService);
      queues = t.app.get(JobBackend);
      publisher = t.app.get(OutboxPublisher);
      dataSource = t.app.get(DataSource);
    });

    afterAll(async () => {
      await t.close();
      await deleteRedisKeys(REDIS_URL, PREFIX, SHUTDOWN_PREFIX);
    });

    it('placing an order sends exactly one confirmation mail', async () => {
      const post = (url: string, payload: object) => t.inject({ method: 'POST', url, payload });
      const category = (await post('/api/categories', { name: 'Jobs', slug: 'jobs' })).json<{ id: number }>();
      const product = (
        await post('/api/products', {
          name: 'Kettle',
          sku: 'JOB-1',
          price: '12.50',
          stock: 5,
          status: 'active',
          categoryId: category.id,
        })
      ).json<{ id: number }>();
      const order = await post('/api/orders', { items: [{ productId: product.id, quantity: 1 }] });
      expect(order.statusCode).toBe(201);
      const { id } = order.json<{ id: number }>();

      const mail = t.app.get(MailService);
      const confirmations = () => mail.sent().filter((m) => m.subject === `Your order #${id}`);
      await waitFor('the confirmation mail', () => confirmations().length > 0);
      await sleep(1_000);
      expect(confirmations()).toHaveLength(1);
      expect(confirmations()[0].to).toBe(t.superuser!.email);
      expect(await effectCount(`orders.send-confirmation:${id}`)).toBe(1);
    });

    it('a rolled-back transaction leaves no outbox row and the job never runs', async () => {
      const before = await outboxCount();
      let rolledBackId = '';
      await expect(
        dataSource.transaction(async (manager) => {
          rolledBackId = await jobs.enqueue('test.count', { key: 'rolled-back' }, {}, manager);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(rolledBackId).not.toBe('');
      expect(await outboxRow(rolledBackId)).toBeUndefined();
      expect(await outboxCount()).toBe(before);

      // A job committed afterwards on the same queue runs: by then the rolled-back one would have too.
      const committedId = await dataSource.transaction((manager) =>
        jobs.enqueue('test.count', { key: 'committed' }, {}, manager),
      );
      await waitFor('the committed job', () => runsOf('test.count', 'committed').length > 0);
      expect(runsOf('test.count', 'committed')[0].jobId).toBe(committedId);
      // A worker may run the job before the relay has marked its row published (add, then UPDATE).
      await waitFor('the row marked published', async () => (await outboxRow(committedId))?.publishedAt);
      expect(runsOf('test.count', 'rolled-back')).toHaveLength(0);
      expect(await queues.queue('test.count').getJob(rolledBackId)).toBeUndefined();
    });

    it('an invalid payload is refused at enqueue with NST-J006 and writes nothing', async () => {
      const before = await outboxCount();
      const wrongType = jobs.enqueue('test.count', { key: 42 });
      await expect(wrongType).rejects.toBeInstanceOf(JobPayloadError);
      await expect(wrongType).rejects.toThrow(/^NST-J006 Invalid payload for job test\.count: key: /);
      await expect(jobs.enqueue('test.count', { key: 'k', extra: true })).rejects.toThrow(/NST-J006.*extra/);
      await expect(
        dataSource.transaction((manager) => jobs.enqueue('test.flaky', { key: 'k' }, {}, manager)),
      ).rejects.toThrow(/NST-J006.*failures/);
      expect(await outboxCount()).toBe(before);
    });

    it('enqueueMany: one invalid payload enqueues nothing; valid ones run once each, published after commit', async () => {
      const before = await outboxCount();
      const keys = Array.from({ length: 50 }, (_, i) => `bulk-${backend}-${i}`);
      const invalid = jobs.enqueueMany('test.count', [
        ...keys.slice(0, 3).map((key) => ({ key })),
        { key: 7 },
      ]);
      await expect(invalid).rejects.toBeInstanceOf(JobPayloadError);
      await expect(invalid).rejects.toThrow(/NST-J006 Invalid payload for job test\.count: \[3\] key: /);
      expect(await outboxCount()).toBe(before);
      expect(await jobs.enqueueMany('test.count', [])).toEqual([]);

      let ids: string[] = [];
      await dataSource.transaction(async (manager) => {
        ids = await jobs.enqueueMany(
          'test.count',
          keys.map((key) => ({ key })),
          {},
          manager,
        );
        // Not published before the commit: no worker can have seen them.
        expect(await queues.queue('test.count').getJob(ids[0])).toBeUndefined();
      });
      expect(new Set(ids).size).toBe(keys.length);
      // Ids come back in payload order.
      const { length } = await dataSource.query<{ id: string }[]>(
        `SELECT o.id FROM job_outbox o JOIN unnest($1::uuid[], $2::text[]) AS x(id, key)
           ON o.id = x.id AND o.payload->>'key' = x.key`,
        [ids, keys],
      );
      expect(length).toBe(keys.length);
      await waitFor('every bulk job to run', () => keys.every((key) => runsOf('test.count', key).length > 0));
      await jobs.drain();
      expect(keys.map((key) => runsOf('test.count', key).length)).toEqual(keys.map(() => 1));
      expect(keys.map((key, i) => runsOf('test.count', key)[0].jobId === ids[i]).every(Boolean)).toBe(true);
    });

    it('the sweeper publishes a row left unpublished by a crash, once', async () => {
      const [{ id }] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO job_outbox (name, payload, "createdAt") VALUES ('test.count', $1, now() - interval '10 seconds')
        RETURNING id`,
        [JSON.stringify({ key: 'crashed' })],
      );
      // No publish call: only the periodic sweeper (every 2 s) can pick it up.
      await waitFor('the swept job to run', () => runsOf('test.count', 'crashed').length > 0, 10_000);
      expect(runsOf('test.count', 'crashed')[0].jobId).toBe(id);
      await waitFor('publishedAt', async () => (await outboxRow(id))?.publishedAt);

      // Publishing the same row again (as a second sweeper or a late relay would) reuses the job id.
      await dataSource.query('UPDATE job_outbox SET "publishedAt" = NULL WHERE id = $1', [id]);
      expect(await publisher.sweep()).toBeGreaterThanOrEqual(1);
      await dataSource.query('UPDATE job_outbox SET "publishedAt" = NULL WHERE id = $1', [id]);
      await publisher.publish([id]);
      expect((await outboxRow(id))?.publishedAt).toBeInstanceOf(Date);
      const marker = await jobs.enqueue('test.count', { key: 'after-republish' });
      await waitFor(
        'a later job on the same queue',
        () => runsOf('test.count', 'after-republish').length > 0,
      );
      await sleep(200);
      expect(runsOf('test.count', 'crashed')).toHaveLength(1);
      expect(await effectCount('count:crashed')).toBe(1);
      expect(await (await queues.queue('test.count').getJob(id))?.getState()).toBe('completed');
      expect(marker).not.toBe(id);
    });

    it('marks finished jobs, and republishes a published job the queue lost (e.g. Redis restarted empty)', async () => {
      const done = await jobs.enqueue('test.count', { key: 'finished' });
      await waitFor(
        'finishedAt of a completed job',
        async () =>
          (
            await dataSource.query<{ finishedAt: Date | null }[]>(
              'SELECT "finishedAt" FROM job_outbox WHERE id = $1',
              [done],
            )
          )[0]?.finishedAt,
      );
      // A row published two minutes ago that Redis no longer knows: what a restart without persistence leaves.
      const [{ id }] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO job_outbox (name, payload, "createdAt", "publishedAt")
       VALUES ('test.count', $1, now() - interval '2 minutes', now() - interval '2 minutes') RETURNING id`,
        [JSON.stringify({ key: 'lost' })],
      );
      expect(await publisher.recoverLost()).toBeGreaterThanOrEqual(1);
      await waitFor('the recovered job to run', () => runsOf('test.count', 'lost').length > 0);
      expect(runsOf('test.count', 'lost')[0].jobId).toBe(id);
      // Finished and queued jobs are left alone: a second pass republishes nothing of these.
      await waitFor(
        'finishedAt of the recovered job',
        async () =>
          (
            await dataSource.query<{ finishedAt: Date | null }[]>(
              'SELECT "finishedAt" FROM job_outbox WHERE id = $1',
              [id],
            )
          )[0]?.finishedAt,
      );
      await publisher.recoverLost();
      await sleep(200);
      expect(runsOf('test.count', 'lost')).toHaveLength(1);
      expect(runsOf('test.count', 'finished')).toHaveLength(1);
    });

    it('retries with growing backoff, then succeeds', async () => {
      const id = await jobs.enqueue('test.flaky', { key: 'retry', failures: 3 });
      await waitFor('the 4th attempt', () => runsOf('test.flaky', 'retry').length >= 4);
      // bullmq's PostgreSQL backend can show the state a moment before the attempt count it goes with.
      const job = await waitFor('the completed job, 4 attempts made', async () => {
        const found = await queues.queue('test.flaky').getJob(id);
        return found && (await found.getState()) === 'completed' && found.attemptsMade === 4
          ? found
          : undefined;
      });
      const attempts = runsOf('test.flaky', 'retry');
      expect(attempts.map((r) => r.attempt)).toEqual([1, 2, 3, 4]);
      expect(attempts.every((r) => r.jobId === id)).toBe(true);
      expect(job.attemptsMade).toBe(4);
      expect(await effectCount('flaky:retry')).toBe(1);
      // Every attempt offered its effect the same outside idempotency key; another effect key gets another.
      const offered = effectKeys.filter((e) => e.key === 'retry').map((e) => e.idempotencyKey);
      expect(offered).toHaveLength(4);
      expect(new Set(offered).size).toBe(1);
      expect(offered[0]).toMatch(/^[\w-]{32}$/);
      await jobs.enqueue('test.flaky', { key: 'other', failures: 0 });
      const other = await waitFor('the other effect', () => effectKeys.find((e) => e.key === 'other'));
      expect(other.idempotencyKey).not.toBe(offered[0]);
      // Exponential backoff from 50 ms with 50 % jitter: the n-th retry waits 25·2ⁿ⁻¹…50·2ⁿ⁻¹ ms (plus the
      // worker's pick-up latency, which can exceed the first backoff, so only the floors are compared).
      const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i].at);
      gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(25 * 2 ** i - 5));
      console.info(`jobs.e2e: retry gaps ${gaps.join(', ')} ms`);
    });

    it('a payload that fails validation at handling fails at once, without retries', async () => {
      const [{ id }] = await dataSource.query<{ id: string }[]>(
        `INSERT INTO job_outbox (name, payload) VALUES ('test.flaky', $1) RETURNING id`,
        [JSON.stringify({ key: 'bad', failures: 'many' })],
      );
      await publisher.publish([id]);
      const job = await waitFor('the failed job', async () => {
        const found = await queues.queue('test.flaky').getJob(id);
        return found && (await found.getState()) === 'failed' && found.attemptsMade > 0 ? found : undefined;
      });
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toMatch(/^NST-J006 Invalid payload for job test\.flaky: failures: /);
      await sleep(200); // a retry with a 50 ms backoff would have started by now
      expect(await job.getState()).toBe('failed');
      expect(runsOf('test.flaky', 'bad')).toHaveLength(0);
      // Failed for good: the outbox stops watching it, so it is never republished when Redis prunes it.
      const [row] = await dataSource.query<{ finishedAt: Date | null }[]>(
        'SELECT "finishedAt" FROM job_outbox WHERE id = $1',
        [id],
      );
      expect(row.finishedAt).toBeInstanceOf(Date);
    });

    it('a delayed job does not run before its delay', async () => {
      const start = Date.now();
      await jobs.enqueue('test.count', { key: 'delayed' }, { delay: 800 });
      await sleep(700 - (Date.now() - start));
      expect(runsOf('test.count', 'delayed')).toHaveLength(0);
      const [run] = await waitFor('the delayed job', () => {
        const found = runsOf('test.count', 'delayed');
        return found.length > 0 ? found : undefined;
      });
      expect(run.at - start).toBeGreaterThanOrEqual(790);
      console.info(`jobs.e2e: delayed job ran after ${run.at - start} ms (delay 800)`);
    });

    it('a cron job declared in code has a scheduler and fires every second', async () => {
      const schedulers = await queues.queue('test.tick').getJobSchedulers();
      expect(schedulers).toEqual([
        expect.objectContaining({ key: 'cron:test.tick', pattern: '* * * * * *' }),
      ]);
      const seen = ticks.length;
      await waitFor('two more ticks', () => ticks.length >= seen + 2, 10_000);
    });

    it('a dedupe key makes enqueueing an unfinished job again a no-op', async () => {
      const options = { dedupeKey: 'slow:dedupe' };
      const first = await jobs.enqueue('test.slow', { key: 'dedupe', ms: 300 }, options);
      const again = await dataSource.transaction((manager) =>
        jobs.enqueue('test.slow', { key: 'dedupe', ms: 300 }, options, manager),
      );
      expect(again).toBe(first);
      // drain() with too short a deadline says how many jobs are still unfinished (at least this one).
      await expect(jobs.drain(50)).rejects.toThrow(/^[1-9]\d* job\(s\) still unfinished after 50 ms$/);
      await jobs.drain();
      expect(runsOf('test.slow', 'dedupe').map((r) => r.jobId)).toEqual([first]);
      // Finished: the key is free again.
      const later = await jobs.enqueue('test.slow', { key: 'dedupe', ms: 0 }, options);
      expect(later).not.toBe(first);
      await jobs.drain();
      expect(runsOf('test.slow', 'dedupe').map((r) => r.jobId)).toEqual([first, later]);
    });

    it('graceful shutdown lets an active job finish and leaves nothing active', async () => {
      // Its own queues (Redis prefix, or database): its workers must not take the main app's jobs.
      const database = backend === 'postgres' ? await createTestDatabase() : undefined;
      const other = await createTestApp(withTestJobs, {
        env: { ...jobsEnv(backend, SHUTDOWN_PREFIX), ...(database ? { DATABASE_URL: database.url } : {}) },
      });
      let closed = false;
      let id: string;
      try {
        id = await other.app.get(JobsService).enqueue('test.slow', { key: 'shutdown', ms: 1_000 });
        await waitFor('the slow job to start', () => runsOf('test.slow', 'shutdown').length > 0);
        const start = Date.now();
        await other.close();
        closed = true;
        const closeMs = Date.now() - start;
        expect(slowDone.filter((key) => key === 'shutdown')).toEqual(['shutdown']);
        expect(closeMs).toBeGreaterThanOrEqual(700);
        console.info(`jobs.e2e: close waited ${closeMs} ms for the active job`);
      } finally {
        if (!closed) {
          await other.close();
        }
      }
      const queue = database
        ? new (withBackend(createPostgresBackend).Queue)('test.slow', { connection: database.url })
        : new Queue('test.slow', { connection: { host: '127.0.0.1', port: 6379 }, prefix: SHUTDOWN_PREFIX });
      try {
        expect(await queue.getJobCounts('active', 'wait', 'completed')).toEqual({
          active: 0,
          wait: 0,
          completed: 1,
        });
        expect(await (await queue.getJob(id))?.getState()).toBe('completed');
      } finally {
        await queue.close();
        await database?.drop();
      }
    });

    it('a schedule whose job was deleted from the code disappears at the next worker boot', async () => {
      const recorded = 'SELECT name, cron FROM job_schedule ORDER BY name';
      expect(await dataSource.query(recorded)).toEqual([
        { name: 'reports.daily-sales', cron: '0 2 * * *' },
        { name: 'test.tick', cron: '* * * * * *' },
      ]);
      // The same database and queues, booted from code without the test jobs.
      const next = await createTestApp((config) => AppModule.forRoot(config), {
        env: { ...jobsEnv(backend, PREFIX), DATABASE_URL: t.config.databaseUrl! },
      });
      await next.close();
      expect(await queues.queue('test.tick').getJobSchedulers()).toEqual([]);
      expect(await dataSource.query(recorded)).toEqual([{ name: 'reports.daily-sales', cron: '0 2 * * *' }]);
      expect(await queues.queue('reports.daily-sales').getJobSchedulers()).toHaveLength(1);
    });
  },
);

describe('Job declarations', () => {
  it.each([
    [
      'NST-J001',
      'duplicate job names',
      [FirstCount, SecondCount],
      /NST-J001 SecondCount\.handle: job "test\.dup" is already handled by FirstCount\.handle/,
    ],
    [
      'NST-J003',
      'an invalid cron',
      [BadCron],
      /NST-J003 BadCron\.handle: job "test\.bad-cron" has an invalid cron "61 \* \* \* \*"/,
    ],
    [
      'NST-J004',
      'a name longer than 100 characters',
      [LongName],
      /NST-J004 LongName\.handle: job name "test\.x{96}" must be lowercase words joined by "\." or "-", at most 100 characters/,
    ],
    [
      'NST-J002',
      'no payload class',
      [NoPayload],
      /NST-J002 NoPayload\.handle: job "test\.no-payload" has no payload class/,
    ],
  ])('refuses to boot with %s (%s)', async (_code, _what, providers, message) => {
    await expect(createTestApp(appWithProviders(...providers))).rejects.toThrow(message);
  });
});

describe('Jobs on bullmq (redis) when Redis goes away', () => {
  it('with Redis gone, shutdown waits for the running job only, not for Redis', async () => {
    const proxy = await FrozenProxy.start(6379);
    const other = await createTestApp(withTestJobs, {
      env: { ...jobsEnv('redis', GONE_PREFIX), REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
    });
    try {
      await other.app.get(JobsService).enqueue('test.slow', { key: 'redis-gone', ms: 1_500 });
      await waitFor('the slow job to start', () => runsOf('test.slow', 'redis-gone').length > 0);
      await proxy.close(); // every connection dropped, and nothing listens there any more
      await sleep(200); // ioredis sees the sockets close
      const start = Date.now();
      await other.close();
      const closeMs = Date.now() - start;
      expect(slowDone.filter((key) => key === 'redis-gone')).toEqual(['redis-gone']);
      expect(closeMs).toBeLessThan(4_000); // under JOBS_SHUTDOWN_TIMEOUT (5 s); it waited forever before
      console.info(`jobs.e2e: with Redis gone, close took ${closeMs} ms`);
    } finally {
      await deleteRedisKeys(REDIS_URL, GONE_PREFIX);
    }
  });
});
