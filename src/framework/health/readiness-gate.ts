import { Injectable } from '@nestjs/common';

/**
 * Turns `/health/ready` red on purpose while the process still serves: on SIGTERM the entry point closes it
 * first, so a load balancer takes the process out of rotation before it stops listening.
 * Example: `app.get(ReadinessGate).close('shutting down')`.
 */
@Injectable()
export class ReadinessGate {
  private why: string | undefined;

  /** Why the process is not ready whatever its dependencies say; undefined while open. */
  get closedBecause(): string | undefined {
    return this.why;
  }

  close(reason: string): void {
    this.why = reason;
  }
}
