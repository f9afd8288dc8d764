import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { IsString } from 'class-validator';
import { DataSource } from 'typeorm';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobRunner } from 'src/framework/jobs/job-runner';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import { TestApp, createTestApp } from 'src/framework/testing';
import { appWithProviders } from 'test/support/app-with';

class OrderPayload {
  @IsString()
  order!: string;
}

const done: string[] = [];

@Injectable()
class TwoStepJobs {
  /** Reserves stock, then charges the card: two effects, each exactly once. */
  @Job('stalls.two-steps', { payload: OrderPayload, attempts: 3 })
  async handle({ order }: OrderPayload, ctx: JobContext): Promise<void> {
    await ctx.once(`reserve:${order}`, () => Promise.resolve(void done.push(`reserve:${order}`)));
    await ctx.once(`charge:${order}`, () => Promise.resolve(void done.push(`charge:${order}`)));
  }
}

const withJobs = appWithProviders(TwoStepJobs);

describe('jobs: JOBS_MAX_STALLS and a job whose worker died between two effects', () => {
  let t: TestApp;

  beforeAll(async () => {
    // JOBS_MAX_STALLS=0: the first worker death already reaches the limit (the README allows 0).
    t = await createTestApp(withJobs, { env: { WORKERS: 'off', JOBS_MAX_STALLS: '0' } });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('past the limit, a job cut short between two effects fails for good; it is never completed', async () => {
    const runner = t.app.get(JobRunner);
    const job = t.app.get(JobRegistry).get('stalls.two-steps');
    const id = randomUUID();
    // Delivery 1 committed its first effect, then its worker was SIGKILLed before the second.
    await t.app
      .get(DataSource)
      .query('INSERT INTO job_effect (key, "jobId") VALUES ($1, $2)', ['reserve:o-1', id]);
    // Delivery 2, as bullmq hands it over after the lock expired (stalledCounter 1).
    const outcome = await runner
      .run(job, { id, data: { order: 'o-1' }, attemptsMade: 0, stalledCounter: 1 })
      .then(
        () => 'completed',
        (error: Error) => `failed: ${error.message}`,
      );
    // Completing it would report done a job whose card was never charged: it fails for good instead.
    expect({ outcome, charged: done.includes('charge:o-1') }).toEqual({
      outcome:
        'failed: job stalled more than allowable limit: its worker died 1 times before its handler returned ' +
        '(1 once effect(s) committed; a retry does not run them again)',
      charged: false,
    });
  });

  it('past the limit, a job whose handler had returned completes without running again', async () => {
    const runner = t.app.get(JobRunner);
    const job = t.app.get(JobRegistry).get('stalls.two-steps');
    const id = randomUUID();
    // A redelivery ran the handler to its end (and recorded that), then its worker died before the queue knew.
    await t.app
      .get(DataSource)
      .query('INSERT INTO job_effect (key, "jobId") VALUES ($1, $2), ($3, $2), ($4, $2)', [
        'reserve:o-2',
        id,
        'charge:o-2',
        `$returned:${id}`,
      ]);
    await expect(
      runner.run(job, { id, data: { order: 'o-2' }, attemptsMade: 0, stalledCounter: 1 }),
    ).resolves.toBeUndefined();
    expect(done.filter((effect) => effect.endsWith(':o-2'))).toEqual([]); // not run again
  });
});
