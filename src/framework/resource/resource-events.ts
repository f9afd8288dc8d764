import { Injectable, Logger } from '@nestjs/common';
import type { ResourceRow } from 'src/framework/resource/resource.decorator';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';

/** What a committed write did to one row: `restore` brings a soft-deleted row back. */
export type ResourceWrite = 'create' | 'update' | 'delete' | 'restore';

/** One committed write of a resource's service: the row as REST answers it (for a delete, as it was). */
export interface ResourceEvent {
  definition: ResourceDefinition;
  operation: ResourceWrite;
  id: unknown;
  row: ResourceRow;
}

/** Told of each committed write; it must not throw (a failure is logged and forgotten). */
export type ResourceEventListener = (event: ResourceEvent) => void | Promise<void>;

/**
 * The committed writes of every resource's service (ResourceService, hence REST, GraphQL and the admin),
 * told only after COMMIT: a listener never sees a write that was rolled back. Listeners run after the
 * writer's connection went back to the pool and are not awaited by the writer.
 * Example: `events.listen(({ definition, operation, id }) => log(definition.path, operation, id))`.
 */
@Injectable()
export class ResourceEvents {
  private readonly logger = new Logger('ResourceEvents');
  private readonly listeners: ResourceEventListener[] = [];

  /** Adds a listener for every resource's committed writes. */
  listen(listener: ResourceEventListener): void {
    this.listeners.push(listener);
  }

  /** Tells the listeners of a committed write (the service calls it once its transaction committed). */
  committed(definition: ResourceDefinition, operation: ResourceWrite, id: unknown, row: ResourceRow): void {
    for (const listener of this.listeners) {
      try {
        void Promise.resolve(listener({ definition, operation, id, row })).catch((error: unknown) =>
          this.failed(error),
        );
      } catch (error) {
        this.failed(error);
      }
    }
  }

  private failed(error: unknown): void {
    this.logger.error(`A listener of committed writes failed: ${String(error)}`);
  }
}
