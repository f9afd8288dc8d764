/**
 * Jobs baseline: raw bullmq on the same Redis. `JOBS` no-op jobs are bulk-added (chunks of 1,000), or added
 * with one awaited `queue.add` each with JOBS_ENQUEUE=each, and run by one Worker at concurrency 20 in this
 * process; prints `{"elapsedMs":…,"cpuMs":…,"postgresMs":…,"redisMs":…}` once every job completed (the CPU
 * time of this process, of PostgreSQL and of Redis meanwhile).
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { serviceCpuSeconds } from 'test/bench/processes';

async function main(): Promise<void> {
  const total = Number(process.env.JOBS ?? 20000);
  const prefix = process.env.JOBS_PREFIX!;
  const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
  const queue = new Queue('bench.noop', { connection, prefix });
  let completed = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const worker = new Worker('bench.noop', () => Promise.resolve(undefined), {
    connection,
    prefix,
    concurrency: 20,
  });
  worker.on('completed', () => {
    if (++completed === total) {
      done();
    }
  });
  await worker.waitUntilReady();
  const cpu = process.cpuUsage();
  const services = serviceCpuSeconds();
  const started = process.hrtime.bigint();
  const opts = { attempts: 3, removeOnComplete: { age: 3600, count: 10_000 } };
  for (let i = 0; i < total; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, total - i) }, (_, k) => ({
      name: 'bench.noop',
      data: { n: i + k },
      opts,
    }));
    if (process.env.JOBS_ENQUEUE === 'each') {
      for (const job of chunk) {
        await queue.add(job.name, job.data, job.opts);
      }
    } else {
      await queue.addBulk(chunk);
    }
  }
  await finished;
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const { user, system } = process.cpuUsage(cpu);
  const { postgres, redis } = serviceCpuSeconds();
  process.stdout.write(
    `${JSON.stringify({
      elapsedMs,
      cpuMs: (user + system) / 1000,
      postgresMs: (postgres - services.postgres) * 1000,
      redisMs: (redis - services.redis) * 1000,
    })}\n`,
  );
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
}
main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});
