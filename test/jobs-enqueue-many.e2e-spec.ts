import { Injectable } from '@nestjs/common';
import { IsString } from 'class-validator';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { OutboxPublisher } from 'src/framework/jobs/outbox-publisher';
import { TestApp, createTestApp } from 'src/framework/testing';
import { sleep } from 'test/support/wait';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('jobs-many');

class TextPayload {
  @IsString()
  text!: string;
}

const runs: { text: string; jobId: string }[] = [];

@Injectable()
class ManyJobs {
  @Job('enqueue-many.many', { payload: TextPayload, attempts: 1, concurrency: 5 })
  handle({ text }: TextPayload, ctx: JobContext): Promise<void> {
    runs.push({ text, jobId: ctx.jobId });
    return Promise.resolve();
  }
}

const withJobs = appWithProviders(ManyJobs);

const TEXTS = [
  '',
  'NULL',
  'null',
  'a"b',
  'back\\slash',
  '{a,b}',
  '"{}"',
  'é ✓ 😀',
  'line\nbreak',
  '\\"',
  ' spaced ',
];

describe('jobs: enqueueMany payloads, published from memory and from the sweeper', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(withJobs, { env: { REDIS_URL, JOBS_PREFIX: PREFIX, WORKERS: 'inline' } });
  });

  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  it('each job runs once with exactly its payload; a re-publish of the same rows runs nothing again', async () => {
    const jobs = t.app.get(JobsService);
    const dataSource = t.app.get(DataSource);
    const ids = await dataSource.transaction((manager) =>
      jobs.enqueueMany(
        'enqueue-many.many',
        TEXTS.map((text) => ({ text })),
        {},
        manager,
      ),
    );
    await jobs.drain(10_000);
    const stored = await dataSource.query<{ id: string; text: string }[]>(
      `SELECT id, payload->>'text' AS text FROM job_outbox WHERE id = ANY($1)`,
      [ids],
    );
    expect(ids.map((id) => stored.find((r) => r.id === id)?.text)).toEqual(TEXTS);
    expect(ids.map((id) => runs.filter((r) => r.jobId === id).map((r) => r.text))).toEqual(
      TEXTS.map((x) => [x]),
    );
    // As a sweeper would after a lost published mark: same ids, nothing runs twice.
    await dataSource.query('UPDATE job_outbox SET "publishedAt" = NULL WHERE id = ANY($1)', [ids]);
    await t.app.get(OutboxPublisher).publish(ids);
    await sleep(500);
    expect(runs).toHaveLength(TEXTS.length);
  });
});
