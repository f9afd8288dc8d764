import { runMigrations, WorkerOptions } from 'bullmq';
import { Pool } from 'pg';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { DatabaseHangGuard } from 'src/framework/database/hang-guard';
import { BullJobBackend, JobProcessor, JobWorker } from 'src/framework/jobs/backends/bull-job-backend';
import { JobQueue, OnPostgres } from 'src/framework/jobs/backends/job-backend';
import { JobRunner } from 'src/framework/jobs/job-runner';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';

/** The schema bullmq's PostgreSQL backend keeps its tables in. */
export const BULLMQ_SCHEMA = 'bullmq';

/** bullmq's own PostgreSQL backend: jobs without Redis, on a PostgreSQL server (DATABASE_URL). */
export class PostgresJobBackend extends BullJobBackend {
  private pool?: Pool;
  private poolReady?: Promise<void>;
  private unwatch?: () => void;

  constructor(
    config: NestorConfig,
    registry: JobRegistry,
    runner: JobRunner,
    settler: OutboxSettler,
    private readonly hangGuard: DatabaseHangGuard,
  ) {
    super(config, registry, runner, settler);
  }

  ready(): Promise<void> {
    // bullmq versions its own schema; its migrations take an advisory lock, so concurrent boots are safe.
    this.poolReady ??= this.postgres()
      .connect()
      .then(async (client) => {
        try {
          await runMigrations(client, BULLMQ_SCHEMA);
        } finally {
          client.release();
        }
      });
    return this.poolReady;
  }

  protected newQueue(name: string): JobQueue {
    return new OnPostgres.Queue<object, unknown>(name, { connection: this.postgres() });
  }

  protected newWorker(
    name: string,
    processor: JobProcessor,
    options: Omit<WorkerOptions, 'connection'>,
  ): JobWorker {
    return new OnPostgres.Worker<object, unknown>(name, processor, {
      ...options,
      connection: this.postgres(),
    });
  }

  protected async closeConnection(): Promise<void> {
    this.unwatch?.();
    await this.pool?.end().catch(() => undefined);
  }

  private postgres(): Pool {
    // One pool for every queue and worker; each worker also holds one of its clients to LISTEN.
    if (!this.pool) {
      this.pool = new Pool({
        connectionString: this.config.databaseUrl,
        options: `-c search_path="${BULLMQ_SCHEMA}"`, // bullmq's SQL uses unqualified names
        max: this.registry.all().length * 2 + 5,
      });
      // Every bullmq queue and worker listens for the pool's errors.
      this.pool.setMaxListeners(this.registry.all().length * 4 + 10);
      // An idle connection the server dropped: the pool replaces it; unhandled, it would end the process.
      this.pool.on('error', (error) => this.outages.failed('Job backend connection', error));
      // A new connection after errors: the server answers again (said once, with the outage's length).
      this.pool.on('connect', () => this.outages.recovered());
      // A hung server would otherwise leave workers waiting forever on bullmq's queries (pg has no deadline).
      this.unwatch = this.hangGuard.watch(this.pool);
    }
    return this.pool;
  }
}
