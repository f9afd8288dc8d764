/**
 * Jobs through Nestor: the real app composition plus one no-op `@Job` (concurrency 20), booted as a worker
 * (WORKERS=inline, Redis backend). `JOBS` jobs are enqueued with `JobsService.enqueueMany` inside
 * transactions of 1,000 (the outbox path: one INSERT per 1,000 jobs, published after commit; as the raw
 * baseline's addBulk of 1,000), or one `enqueue` each with JOBS_ENQUEUE=each; then `drain()` waits until the
 * outbox shows every job finished. Prints `{"elapsedMs":…,"handledMs":…,"unfinished":…,"cpuMs":…,
 * "postgresMs":…,"redisMs":…,"framework":…}` (CPU time of this process, of PostgreSQL and of Redis): when the outbox still has unfinished rows a minute after the last handler ran, elapsedMs is
 * the handlers' time and `unfinished` says how many rows were never marked finished; `framework` is the file
 * the JobsService came from, so the harness can check which build ran.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { IsInt } from 'class-validator';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { loadConfig } from 'src/framework/config/load-config';
import { Job } from 'src/framework/jobs/job.decorator';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { serviceCpuSeconds } from 'test/bench/processes';

class BenchPayload {
  @IsInt()
  n!: number;
}

let handled = 0;
let allHandled!: () => void;
const handledAll = new Promise<void>((resolve) => (allHandled = resolve));
const total = Number(process.env.JOBS ?? 20000);

@Injectable()
class BenchJobs {
  @Job('bench.noop', { payload: BenchPayload, concurrency: 20, attempts: 3 })
  async noop(): Promise<void> {
    if (++handled === total) {
      allHandled();
    }
    return Promise.resolve();
  }
}

@Module({ providers: [BenchJobs] })
class BenchJobsModule {}

async function main(): Promise<void> {
  const config = loadConfig({ overrides: { workers: 'inline' } });
  const root = AppModule.forRoot(config);
  const app = await NestFactory.createApplicationContext(
    { ...root, imports: [...(root.imports ?? []), BenchJobsModule] },
    { logger: ['error'] },
  );
  await app.init();
  const jobs = app.get(JobsService);
  const dataSource = app.get(DataSource);
  const cpu = process.cpuUsage();
  const services = serviceCpuSeconds();
  const started = process.hrtime.bigint();
  for (let i = 0; i < total; i += 1000) {
    await dataSource.transaction(async (manager) => {
      const chunk = Array.from({ length: Math.min(1000, total - i) }, (_, k) => ({ n: i + k }));
      if (process.env.JOBS_ENQUEUE === 'each') {
        for (const payload of chunk) {
          await jobs.enqueue('bench.noop', payload, {}, manager);
        }
      } else {
        await jobs.enqueueMany('bench.noop', chunk, {}, manager);
      }
    });
  }
  await handledAll;
  const handledMs = Number(process.hrtime.bigint() - started) / 1e6;
  // Done means the outbox says so too (rows marked finished). Give it a minute beyond the last handler run.
  const drained = await jobs.drain(60_000).then(
    () => true,
    () => false,
  );
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const { user, system } = process.cpuUsage(cpu);
  const { postgres, redis } = serviceCpuSeconds();
  const [{ n }] = await dataSource.query<{ n: number }[]>(
    'SELECT count(*)::int AS n FROM job_outbox WHERE "finishedAt" IS NULL',
  );
  process.stdout.write(
    `${JSON.stringify({
      elapsedMs: drained ? elapsedMs : handledMs,
      handledMs,
      unfinished: n,
      cpuMs: (user + system) / 1000,
      postgresMs: (postgres - services.postgres) * 1000,
      redisMs: (redis - services.redis) * 1000,
      // Which build ran: the harness checks it is the one it meant (nestor's, or --before's).
      framework: require.resolve('src/framework/jobs/jobs.service'),
    })}\n`,
  );
  await app.get(JobBackend).queue('bench.noop').obliterate({ force: true });
  await app.close();
  process.exit(0);
}
main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});
