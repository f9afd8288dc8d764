import { randomBytes } from 'node:crypto';
import { Body, Controller, DynamicModule, Injectable, Module, Post } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { symbols } from 'pino';
import { AppModule } from 'src/app.module';
import { Public } from 'src/framework/access/auth.decorators';
import { LoadedConfig } from 'src/framework/config/load-config';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { TestApp, createTestApp } from 'src/framework/testing';
import { deleteRedisKeys, TEST_REDIS_URL } from 'test/support/redis';
import { FlakyPayload } from 'test/support/flaky-payload';

@Injectable()
class LoggedJobs {
  @Job('logged.flaky', { payload: FlakyPayload, attempts: 3, backoff: 50 })
  flaky({ failures }: FlakyPayload, ctx: JobContext): Promise<void> {
    if (ctx.attempt <= failures) {
      return Promise.reject(new Error(`planned failure ${ctx.attempt} of ${failures}`));
    }
    return Promise.resolve();
  }
}

/** A request that enqueues: its id must reach the worker's log lines. */
@Public()
@Controller('test-logged-jobs')
class LoggedJobsController {
  constructor(private readonly jobs: JobsService) {}

  @Post()
  async enqueue(@Body() body: FlakyPayload): Promise<{ id: string }> {
    return { id: await this.jobs.enqueue('logged.flaky', { key: body.key, failures: body.failures }) };
  }
}

@Module({ providers: [LoggedJobs], controllers: [LoggedJobsController] })
class LoggedJobsModule {}

function withLoggedJobs(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), LoggedJobsModule] };
}

type Backend = 'redis' | 'postgres' | 'outbox';
const PREFIX = `jobs-log-${process.pid}-${randomBytes(3).toString('hex')}`;

interface Line {
  level: number;
  msg: string;
  context?: string;
  job?: string;
  jobId?: string;
  requestId?: string;
  attempt?: number;
  durationMs?: number;
  error?: string;
}

describe.each<Backend>(['redis', 'postgres', 'outbox'])('Job log lines (%s backend)', (backend) => {
  let t: TestApp;
  /** Every JSON line the app's logger wrote, as written. */
  const lines: Line[] = [];

  beforeAll(async () => {
    t = await createTestApp(withLoggedJobs, {
      env: {
        LOG_LEVEL: 'warn', // the boot's info lines stay out of the test's output
        WORKERS: 'inline',
        ...(backend === 'redis' ? { REDIS_URL: TEST_REDIS_URL, JOBS_PREFIX: PREFIX } : {}),
        ...(backend === 'outbox' ? { JOBS_BACKEND: 'outbox' } : {}),
      },
    });
    // The destination pino writes its serialised lines to (stdout): what a log collector would read.
    const stream = (PinoLogger.root as unknown as Record<symbol, { write(line: string): boolean }>)[
      symbols.streamSym
    ];
    jest.spyOn(stream, 'write').mockImplementation((line: string) => {
      lines.push(JSON.parse(line) as Line);
      return true;
    });
    PinoLogger.root.level = 'info'; // LOG_LEVEL=info from here on
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await t?.close();
    if (backend === 'redis') {
      await deleteRedisKeys(TEST_REDIS_URL, PREFIX);
    }
  });

  const linesOf = (jobId: string) => lines.filter((line) => line.jobId === jobId);
  const enqueue = async (failures: number, requestId: string): Promise<string> => {
    const res = await t.inject({
      method: 'POST',
      url: '/test-logged-jobs',
      headers: { 'x-request-id': requestId },
      payload: { key: requestId, failures },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: string }>().id;
  };

  it('logs the start and the finish of a job, with its duration and the enqueueing request id', async () => {
    const requestId = `req-${backend}-ok`;
    const jobId = await enqueue(0, requestId);
    await t.drainJobs();

    const logged = linesOf(jobId);
    const fields = { level: 30, context: 'Jobs', job: 'logged.flaky', jobId, requestId, attempt: 1 };
    expect(logged).toEqual([
      expect.objectContaining({ ...fields, msg: `Job logged.flaky ${jobId} started (attempt 1)` }),
      expect.objectContaining({
        ...fields,
        msg: expect.stringMatching(new RegExp(`^Job logged\\.flaky ${jobId} completed in \\d+ ms$`)),
        durationMs: expect.any(Number),
      }),
    ]);
    expect(logged[1].msg).toContain(`in ${logged[1].durationMs} ms`);
  });

  it('logs a failure with its error and attempt, then the retry that succeeds', async () => {
    const requestId = `req-${backend}-flaky`;
    const jobId = await enqueue(1, requestId);
    await t.drainJobs();

    const fields = { level: 30, context: 'Jobs', job: 'logged.flaky', jobId, requestId };
    expect(linesOf(jobId)).toEqual([
      expect.objectContaining({
        ...fields,
        attempt: 1,
        msg: `Job logged.flaky ${jobId} started (attempt 1)`,
      }),
      expect.objectContaining({
        ...fields,
        attempt: 1,
        msg: `Job logged.flaky ${jobId} failed (attempt 1): planned failure 1 of 1`,
        error: 'planned failure 1 of 1',
        durationMs: expect.any(Number),
      }),
      expect.objectContaining({
        ...fields,
        attempt: 2,
        msg: `Job logged.flaky ${jobId} started (attempt 2)`,
      }),
      expect.objectContaining({
        ...fields,
        attempt: 2,
        msg: expect.stringMatching(/ completed in \d+ ms$/),
        durationMs: expect.any(Number),
      }),
    ]);
  });

  it('logs the last failure at warn level, and no request id for a job enqueued outside a request', async () => {
    const jobId = await t.app.get(JobsService).enqueue('logged.flaky', { key: 'no-request', failures: 9 });
    await t.drainJobs();

    const logged = linesOf(jobId);
    expect(logged.map((line) => [line.level, line.attempt, line.msg.split(':')[0]])).toEqual([
      [30, 1, `Job logged.flaky ${jobId} started (attempt 1)`],
      [30, 1, `Job logged.flaky ${jobId} failed (attempt 1)`],
      [30, 2, `Job logged.flaky ${jobId} started (attempt 2)`],
      [30, 2, `Job logged.flaky ${jobId} failed (attempt 2)`],
      [30, 3, `Job logged.flaky ${jobId} started (attempt 3)`],
      [40, 3, `Job logged.flaky ${jobId} failed (attempt 3, no retry left)`],
    ]);
    logged.forEach((line) => expect(line).not.toHaveProperty('requestId'));
  });
});
