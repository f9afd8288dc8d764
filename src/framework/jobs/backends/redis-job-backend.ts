import { Queue, Worker, WorkerOptions } from 'bullmq';
import type * as IORedis from 'ioredis';
import { BullJobBackend, JobProcessor, JobWorker } from 'src/framework/jobs/backends/bull-job-backend';
import type { JobQueue } from 'src/framework/jobs/backends/job-backend';
import { lazyModule } from 'src/framework/lazy-module';

const ioredis = lazyModule<typeof IORedis>('ioredis');

/** bullmq on Redis (REDIS_URL): the production backend, which scales to many worker processes. */
export class RedisJobBackend extends BullJobBackend {
  private connection?: IORedis.Redis;
  /** The Redis server process last connected to (INFO run_id): a different one may have lost the queues. */
  private redisRunId?: string;
  private recoverLost?: () => Promise<void>;

  ready(): Promise<void> {
    return Promise.resolve();
  }

  override onLostQueues(recover: () => Promise<void>): void {
    this.recoverLost = recover;
  }

  protected newQueue(name: string): JobQueue {
    return new Queue<object, unknown>(name, { connection: this.redis(), prefix: this.config.jobsPrefix });
  }

  protected newWorker(
    name: string,
    processor: JobProcessor,
    options: Omit<WorkerOptions, 'connection'>,
  ): JobWorker {
    return new Worker<object, unknown>(name, processor, {
      ...options,
      connection: this.redis(),
      prefix: this.config.jobsPrefix,
    });
  }

  protected override reachable(): boolean {
    return !this.connection || this.connection.status === 'ready';
  }

  protected async closeConnection(): Promise<void> {
    if (this.reachable()) {
      await this.connection?.quit().catch(() => undefined);
    } else {
      this.connection?.disconnect(); // QUIT would wait in the offline queue for a server that is not there
    }
  }

  private redis(): IORedis.Redis {
    if (!this.connection) {
      // Workers block on Redis; bullmq requires maxRetriesPerRequest: null so a slow Redis never fails them.
      this.connection = new (ioredis().Redis)(this.config.redisUrl!, {
        maxRetriesPerRequest: null,
        lazyConnect: false,
      });
      this.connection.on('ready', () => {
        this.outages.recovered();
        void this.afterRedisReady();
      });
    }
    return this.connection;
  }

  /**
   * On every (re)connection: a Redis with a new run_id is another server process (restarted, failed over),
   * which may have lost every queued job. Republish those now rather than at the next minute-scale
   * `recoverLost` sweep; the job id is the outbox id and effects go through `once`, so nothing runs twice.
   */
  private async afterRedisReady(): Promise<void> {
    try {
      const info = await this.connection!.info('server');
      const runId = /^run_id:(\w+)/m.exec(info)?.[1];
      const previous = this.redisRunId;
      this.redisRunId = runId ?? previous;
      if (previous && runId && runId !== previous) {
        this.logger.warn('Redis is a new server process (restarted or failed over): checking for lost jobs');
        await this.recoverLost?.();
      }
    } catch (error) {
      this.logger.warn(`Redis restart check failed (the sweeper retries later): ${(error as Error).message}`);
    }
  }
}
