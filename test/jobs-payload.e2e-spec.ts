import { Injectable } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsDate } from 'class-validator';
import { DataSource } from 'typeorm';
import { Job } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, createTestApp } from 'src/framework/testing';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisKeys, testPrefix } from 'test/support/redis';
import { appWithProviders } from 'test/support/app-with';

const PREFIX = testPrefix('payload');

/** A Date property without `@Type`: the JSON the worker reads holds a string there. */
class DatedPayload {
  @IsDate()
  at!: Date;
}

/** The same with `@Type(() => Date)`: the string is turned back into a Date. */
class TypedDatePayload {
  @Type(() => Date)
  @IsDate()
  at!: Date;
}

const ran: unknown[] = [];

@Injectable()
class PayloadJobs {
  @Job('payload.dated', { payload: DatedPayload, attempts: 1 })
  dated({ at }: DatedPayload): Promise<void> {
    ran.push(at);
    return Promise.resolve();
  }

  @Job('payload.typed-date', { payload: TypedDatePayload, attempts: 1 })
  typed({ at }: TypedDatePayload): Promise<void> {
    ran.push(at);
    return Promise.resolve();
  }
}

const withJobs = appWithProviders(PayloadJobs);

describe('Jobs: enqueue validates the payload the worker will get (after its JSON round trip)', () => {
  let t: TestApp;
  let jobs: JobsService;
  let dataSource: DataSource;
  const rowsOf = async (name: string) =>
    (
      await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM job_outbox WHERE name = $1', [
        name,
      ])
    )[0].n;

  beforeAll(async () => {
    t = await createTestApp(withJobs, { env: { REDIS_URL, JOBS_PREFIX: PREFIX, WORKERS: 'inline' } });
    jobs = t.app.get(JobsService);
    dataSource = t.app.get(DataSource);
  });

  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  it('a payload the worker would refuse (a Date the JSON turns into a string) is refused at enqueue, nothing written', async () => {
    await expect(jobs.enqueue('payload.dated', { at: new Date('2026-12-05T12:00:00Z') })).rejects.toThrow(
      /^NST-J006 Invalid payload for job payload\.dated: at: at must be a Date instance$/,
    );
    await expect(
      jobs.enqueueMany('payload.dated', [{ at: new Date('2026-12-05T12:00:00Z') }]),
    ).rejects.toThrow(
      /^NST-J006 Invalid payload for job payload\.dated: \[0\] at: at must be a Date instance$/,
    );
    expect(await rowsOf('payload.dated')).toBe(0);
  });

  it('a payload that is not JSON (a BigInt) is refused at enqueue with NST-J006', async () => {
    await expect(jobs.enqueue('payload.typed-date', { at: 1n })).rejects.toThrow(
      /^NST-J006 Invalid payload for job payload\.typed-date: the payload is not JSON: /,
    );
    await expect(jobs.enqueueMany('payload.typed-date', [{ at: new Date() }, { at: 1n }])).rejects.toThrow(
      /^NST-J006 Invalid payload for job payload\.typed-date: \[1\] the payload is not JSON: /,
    );
    expect(await rowsOf('payload.typed-date')).toBe(0);
  });

  it('a Date property with @Type(() => Date) is accepted at enqueue and runs with a Date', async () => {
    const at = new Date('2026-12-05T12:00:00Z');
    const ids = [
      await jobs.enqueue('payload.typed-date', { at }),
      ...(await jobs.enqueueMany('payload.typed-date', [{ at }])),
    ];
    await jobs.drain(10_000);
    const rows = await dataSource.query<{ failedAt: Date | null; lastError: string | null }[]>(
      'SELECT "failedAt", "lastError" FROM job_outbox WHERE id = ANY($1)',
      [ids],
    );
    expect(rows).toEqual([
      { failedAt: null, lastError: null },
      { failedAt: null, lastError: null },
    ]);
    expect(ran).toEqual([at, at]);
  });
});
