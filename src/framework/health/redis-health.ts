import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type * as IORedis from 'ioredis';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { lazyModule } from 'src/framework/lazy-module';

const ioredis = lazyModule<typeof IORedis>('ioredis');

/** Pings Redis when `REDIS_URL` is configured; one lazy client, no offline queue so a dead server fails fast. */
@Injectable()
export class RedisHealth implements OnModuleDestroy {
  private client: IORedis.Redis | undefined;

  constructor(
    private readonly config: NestorConfig,
    private readonly health: HealthIndicatorService,
  ) {}

  get enabled(): boolean {
    return Boolean(this.config.redisUrl);
  }

  check(timeoutMs: number, key = 'redis') {
    return this.health
      .check(key)
      .attempt(async () => {
        this.client ??= this.connect(timeoutMs);
        if (this.client.status === 'wait' || this.client.status === 'end') {
          await this.client.connect();
        }
        await this.client.ping();
      })
      .withTimeout(timeoutMs);
  }

  private connect(timeoutMs: number): IORedis.Redis {
    const client = new (ioredis().Redis)(this.config.redisUrl!, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
    });
    // Reported by the failing ping. Unheard, ioredis prints each reconnect's error to stderr.
    client.on('error', () => undefined);
    return client;
  }

  onModuleDestroy(): void {
    this.client?.disconnect();
  }
}
