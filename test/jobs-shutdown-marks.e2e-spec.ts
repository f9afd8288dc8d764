import { Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { Job } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { createTestApp, createTestDatabase } from 'src/framework/testing';
import { sleep, waitFor } from 'test/support/wait';
import { KeyPayload } from 'test/support/jobs';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('jobs-shutdown');

const started: string[] = [];

@Injectable()
class ShutdownJobs {
  @Job('shutdown-marks.ends-ok', { payload: KeyPayload, attempts: 1 })
  async ok({ key }: KeyPayload): Promise<void> {
    started.push(key);
    await sleep(800);
  }

  @Job('shutdown-marks.ends-failed', { payload: KeyPayload, attempts: 1 })
  async fail({ key }: KeyPayload): Promise<void> {
    started.push(key);
    await sleep(800);
    throw new Error(`planned final failure ${key}`);
  }
}

const withJobs = appWithProviders(ShutdownJobs);

describe.each(['redis', 'postgres'] as const)('jobs: outbox marks at graceful shutdown (%s)', (backend) => {
  it('jobs that end during app.close() leave their rows finished (completed) and failed (with the error)', async () => {
    const database = await createTestDatabase();
    const prefix = `${PREFIX}-${backend}`;
    const client = new Client({ connectionString: database.url });
    try {
      // Inside the try: an app that fails to boot still leaves no database behind.
      const app = await createTestApp(withJobs, {
        env: {
          DATABASE_URL: database.url,
          ...(backend === 'redis' ? { REDIS_URL, JOBS_PREFIX: prefix } : {}),
          WORKERS: 'inline',
          JOBS_SHUTDOWN_TIMEOUT: '5000',
        },
      });
      const jobs = app.app.get(JobsService);
      const okIds = await jobs.enqueueMany('shutdown-marks.ends-ok', [{ key: 'ok-1' }, { key: 'ok-2' }]);
      const failId = await jobs.enqueue('shutdown-marks.ends-failed', { key: 'fail-1' });
      await waitFor('all three jobs to start', () => started.length >= 3);
      await app.close(); // SIGTERM does the same: app.close()
      await client.connect();
      const { rows } = await client.query<{
        id: string;
        finishedAt: Date | null;
        failedAt: Date | null;
        lastError: string | null;
      }>('SELECT id, "finishedAt", "failedAt", "lastError" FROM job_outbox');
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of okIds) {
        expect({
          id,
          finished: byId.get(id)?.finishedAt instanceof Date,
          failed: byId.get(id)?.failedAt,
        }).toEqual({
          id,
          finished: true,
          failed: null,
        });
      }
      const failed = byId.get(failId);
      expect({
        finished: failed?.finishedAt instanceof Date,
        failed: failed?.failedAt instanceof Date,
        lastError: failed?.lastError,
      }).toEqual({ finished: true, failed: true, lastError: 'planned final failure fail-1' });
    } finally {
      await client.end().catch(() => undefined);
      await database.drop();
      if (backend === 'redis') {
        await deleteRedisKeys(REDIS_URL, prefix);
      }
      started.length = 0;
    }
  });
});
