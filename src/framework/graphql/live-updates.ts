import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type * as IORedis from 'ioredis';
import mqemitter, { type MQEmitter } from 'mqemitter';
import type MQEmitterRedis from 'mqemitter-redis';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { LivePresence, type PresenceTiming } from 'src/framework/graphql/live-presence';
import { lazyModule } from 'src/framework/lazy-module';
import { OutageLog } from 'src/framework/logging/outage-log';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { ResourceEvents, type ResourceEvent } from 'src/framework/resource/resource-events';

const ioredis = lazyModule<typeof IORedis>('ioredis');
const redisEmitter = lazyModule<typeof MQEmitterRedis>('mqemitter-redis');

/** The three events of a resource a subscription can follow. */
export type LiveKind = 'created' | 'updated' | 'deleted';

/** A committed write as subscribers receive it: the row as REST answers it, and its owner when owned. */
export interface LivePayload {
  id: unknown;
  row: ResourceRow;
  /** The owner's user id on an owned resource (undefined if the row does not show it). */
  owner?: unknown;
}

const KIND: Record<ResourceEvent['operation'], LiveKind> = {
  create: 'created',
  update: 'updated',
  // A restored row is back where it was, with the same id: subscribers see it change.
  restore: 'updated',
  delete: 'deleted',
};

/** Announce every 10 s; a subscription waits up to 500 ms for its announcement to come back. */
const PRESENCE: PresenceTiming = { interval: 10_000, wait: 500 };

/**
 * The bus of GraphQL's live updates (Mercurius's subscription emitter): every committed write of a
 * resource's service is published on `nestor/<prefix>/<resource>/<kind>` when some process has a
 * subscriber on that topic (`LivePresence`: a Map lookup; a write nobody follows costs no PUBLISH). With
 * REDIS_URL set it is Redis pub/sub (mqemitter-redis), so a write in one process reaches subscribers
 * connected to any other; on the embedded default, in-process. Publishing never waits: a write's answer
 * does not depend on Redis. Example: `live.topic(registry.get(ProductResource), 'created')` →
 * `nestor/nestor/products/created`.
 */
@Injectable()
export class LiveUpdates implements OnModuleDestroy {
  /** Mercurius's emitter: its subscriptions start once every process knows of them. */
  readonly emitter: MQEmitter;
  /** Which topics some process listens on. */
  readonly presence: LivePresence;
  private readonly logger = new Logger('LiveUpdates');
  /** Both connections report every reconnect while Redis is away: said once per outage. */
  private readonly outages = new OutageLog(this.logger, "Live updates' Redis");
  private readonly prefix: string;
  private readonly remote: boolean;
  private readonly bus: MQEmitter;
  private connections?: IORedis.Redis[];

  constructor(config: NestorConfig, events: ResourceEvents) {
    this.prefix = `nestor/${config.jobsPrefix}`;
    this.remote = !!config.redisUrl;
    this.bus = config.redisUrl ? this.redis(config.redisUrl) : mqemitter();
    this.presence = new LivePresence(this.bus, this.prefix, this.logger, PRESENCE);
    this.emitter = this.presence.wrap(this.bus);
    events.listen((event) => this.publish(event));
  }

  topic(definition: ResourceDefinition, kind: LiveKind): string {
    return `${this.prefix}/${definition.path}/${kind}`;
  }

  async onModuleDestroy(): Promise<void> {
    this.presence.close();
    if (this.connections) {
      // Not the emitter's close (QUIT): it would wait on, or throw for, a Redis that is out of reach.
      this.connections.forEach((connection) => connection.disconnect());
      return;
    }
    await new Promise<void>((resolve) => this.bus.close(() => resolve()));
  }

  private publish({ definition, operation, id, row }: ResourceEvent): void {
    const topic = this.topic(definition, KIND[operation]);
    if (!this.presence.listened(topic)) {
      return;
    }
    const ownerField = definition.owner?.column?.propertyName;
    const payload: LivePayload = { id, row, owner: ownerField ? row[ownerField] : undefined };
    this.bus.emit(
      // Through Redis as JSON values (timestamps as REST's strings), as the process itself would answer.
      { topic, payload: this.remote ? jsonSafe(payload) : payload },
      (error?: Error) => {
        if (error) {
          this.logger.warn(`A live update of ${definition.path} was not published: ${error.message}`);
        }
      },
    );
  }

  private redis(url: string): MQEmitter {
    const Redis = ioredis().Redis;
    // Publishing fails at once while Redis is away (no queue growing behind a write); subscribing waits.
    // Auto-pipelining: the publishes of concurrent writes share one write to the socket.
    const pubConn = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      enableAutoPipelining: true,
    });
    const subConn = new Redis(url);
    this.connections = [pubConn, subConn];
    // What was announced while Redis was away is lost: publish everything until learnt again.
    let connected = false;
    subConn.on('close', () => this.presence.blind());
    subConn.on('ready', () => {
      if (connected) {
        this.presence.rejoin();
      }
      connected = true;
    });
    const emitter = redisEmitter()({ pubConn, subConn }) as unknown as MQEmitter & {
      state: { on(event: 'error', listener: (error: Error) => void): void };
    };
    // Without a listener, a connection error would be thrown from the emitter's event.
    emitter.state.on('error', (error) => this.outages.failed("Live updates' Redis", error));
    for (const connection of [pubConn, subConn]) {
      connection.on('ready', () => {
        if (pubConn.status === 'ready' && subConn.status === 'ready') {
          this.outages.recovered();
        }
      });
    }
    return emitter;
  }
}

function jsonSafe(payload: LivePayload): LivePayload {
  return JSON.parse(JSON.stringify(payload)) as LivePayload;
}
