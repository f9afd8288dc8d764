import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { OutboxPublisher } from 'src/framework/jobs/outbox-publisher';
import { TestApp, createTestApp } from 'src/framework/testing';
import { waitFor } from 'test/support/wait';
import { KeyPayload } from 'test/support/jobs';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('jobs-recovery');

const runs: { key: string; jobId: string }[] = [];

@Injectable()
class RecoveryJobs {
  @Job('recovery.job', { payload: KeyPayload, attempts: 1 })
  handle({ key }: KeyPayload, ctx: JobContext): Promise<void> {
    runs.push({ key, jobId: ctx.jobId });
    return Promise.resolve();
  }

  @Job('recovery.paused', { payload: KeyPayload, attempts: 1 })
  held({ key }: KeyPayload, ctx: JobContext): Promise<void> {
    runs.push({ key, jobId: ctx.jobId });
    return Promise.resolve();
  }
}

const withJobs = appWithProviders(RecoveryJobs);

/** What the outbox sweeper and the lost-job recovery do with rows a crash, a flush or a deploy left behind. */
describe('jobs: sweeping and recovering the outbox (Redis)', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let publisher: OutboxPublisher;
  let jobs: JobsService;

  beforeAll(async () => {
    t = await createTestApp(withJobs, { env: { REDIS_URL, JOBS_PREFIX: PREFIX, WORKERS: 'inline' } });
    dataSource = t.app.get(DataSource);
    publisher = t.app.get(OutboxPublisher);
    // The passes below are the test's own: the app's sweeper, every 2 s, would race them.
    publisher.stopSweeper();
    jobs = t.app.get(JobsService);
  });

  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  /** An outbox row as a crash (unpublished) or a flushed Redis (published, gone from the queue) leaves it. */
  async function outboxRow(
    name: string,
    key: string,
    times: { created: string; published?: string; delay?: number },
  ): Promise<string> {
    const [{ id }] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO job_outbox (name, payload, delay, "createdAt", "publishedAt")
       VALUES ($1, $2, $3, now() - $4::interval, now() - $5::interval) RETURNING id`,
      [name, JSON.stringify({ key }), times.delay ?? null, times.created, times.published ?? null],
    );
    return id;
  }

  it('deletes the rows that finished over a week ago, once an hour (the DELETE reads the whole outbox)', async () => {
    const finished = async (age: string): Promise<string> => {
      const id = await outboxRow('recovery.job', `finished-${age}`, { created: age, published: age });
      await dataSource.query('UPDATE job_outbox SET "finishedAt" = now() - $2::interval WHERE id = $1', [
        id,
        age,
      ]);
      return id;
    };
    const kept = async (ids: string[]): Promise<string[]> =>
      (
        await dataSource.query<{ id: string }[]>('SELECT id FROM job_outbox WHERE id = ANY($1) ORDER BY id', [
          ids,
        ])
      ).map((row) => row.id);
    const [old, recent] = [await finished('8 days'), await finished('6 days')];
    const start = Date.now();
    const clock = jest.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(start + 2 * 3600_000); // past any pass the app made before the sweeper stopped
      await publisher.recoverLost();
      expect(await kept([old, recent])).toEqual([recent]);

      const older = await finished('9 days');
      clock.mockReturnValue(start + 2.9 * 3600_000);
      await publisher.recoverLost();
      expect(await kept([older])).toEqual([older]); // within the hour: left for the next prune

      clock.mockReturnValue(start + 3.1 * 3600_000);
      await publisher.recoverLost();
      expect(await kept([older, recent])).toEqual([recent]);
    } finally {
      clock.mockRestore();
      await dataSource.query('DELETE FROM job_outbox WHERE id = $1', [recent]);
    }
  });

  it('sweeps the rows behind one of a job this process does not declare (removed, or a newer deploy’s)', async () => {
    const unknown = await outboxRow('recovery.removed-job', 'unknown', { created: '20 seconds' });
    const known = await outboxRow('recovery.job', 'behind-unknown', { created: '10 seconds' });
    try {
      expect(await publisher.sweep()).toBe(1);
      await waitFor('the known job to run', () => runs.some((r) => r.jobId === known));
      const [row] = await dataSource.query<{ publishedAt: Date | null }[]>(
        'SELECT "publishedAt" FROM job_outbox WHERE id = $1',
        [unknown],
      );
      expect(row.publishedAt).toBeNull(); // left for a process that knows it
    } finally {
      await dataSource.query('DELETE FROM job_outbox WHERE id = $1', [unknown]);
    }
  });

  it('publishes the other jobs of a batch when one job’s rows cannot be published', async () => {
    const unknown = await outboxRow('recovery.removed-job', 'unknown', { created: '1 second' });
    const known = await outboxRow('recovery.job', 'beside-unknown', { created: '1 second' });
    try {
      await expect(publisher.publish([unknown, known])).rejects.toThrow('NST-J005');
      await waitFor('the known job to run', () => runs.some((r) => r.jobId === known));
    } finally {
      await dataSource.query('DELETE FROM job_outbox WHERE id = $1', [unknown]);
    }
  });

  it('goes on where its last pass stopped, so jobs waiting in the queue never hide a lost one behind them', async () => {
    const queue = t.app.get(JobBackend).queue('recovery.paused') as Queue;
    await queue.pause(); // published and waiting: unfinished, and known to the queue
    try {
      const waiting: string[] = [];
      for (let i = 0; i < 3; i++) {
        waiting.push(await jobs.enqueue('recovery.paused', { key: `waiting-${i}` }));
      }
      await waitFor('the waiting jobs in the queue', async () => (await queue.getWaitingCount()) === 3);
      // Marked published after the add: set back only once that mark is in, or it would undo the change.
      await waitFor('the waiting jobs marked published', async () => {
        const [{ n }] = await dataSource.query<{ n: number }[]>(
          'SELECT count(*)::int AS n FROM job_outbox WHERE id = ANY($1) AND "publishedAt" IS NOT NULL',
          [waiting],
        );
        return n === 3;
      });
      await dataSource.query(
        `UPDATE job_outbox SET "publishedAt" = now() - interval '10 minutes' WHERE id = ANY($1)`,
        [waiting],
      );
      // Published two minutes ago, then lost (a flushed Redis).
      const lost = await outboxRow('recovery.job', 'lost-behind', {
        created: '2 minutes',
        published: '2 minutes',
      });
      const republished: number[] = [];
      for (let pass = 0; pass < 3; pass++) {
        republished.push(await publisher.recoverLost(60_000, 2));
      }
      expect(republished).toEqual([0, 1, 0]); // the three waiting, the lost one, then from the start again
      await waitFor('the lost job to run', () => runs.some((r) => r.jobId === lost));
    } finally {
      await queue.resume();
    }
  });

  it('republishes a lost delayed job with what is left of its delay, once it is due', async () => {
    // Published ten minutes ago with an eleven-minute delay: not due yet, so the periodic pass leaves it.
    const early = await outboxRow('recovery.job', 'lost-delayed', {
      created: '10 minutes',
      published: '10 minutes',
      delay: 11 * 60_000,
    });
    const queue = t.app.get(JobBackend).queue('recovery.job') as Queue;
    expect(await publisher.recoverLost()).toBe(0);
    expect(await queue.getJob(early)).toBeUndefined();
    // Due a minute and a half ago: republished due at once, not eleven minutes from now.
    const due = await outboxRow('recovery.job', 'lost-due', {
      created: '12 minutes',
      published: '12 minutes',
      delay: 10 * 60_000 + 30_000,
    });
    expect(await publisher.recoverLost()).toBe(1);
    await waitFor('the due job to run', () => runs.some((r) => r.jobId === due));
    await dataSource.query('DELETE FROM job_outbox WHERE id = $1', [early]);
  });
});
