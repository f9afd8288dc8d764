import type { LoggerService } from '@nestjs/common';

/** One error message's run of repeats: since when, how many since the last line, and who reported them. */
interface Repeats {
  since: number;
  lastLine: number;
  lastSeen: number;
  total: number;
  unlogged: number;
  sources: Set<string>;
}

/** The sources a summary line names before it says "and N more". */
const NAMED_SOURCES = 3;
/** Distinct messages remembered at most (a message naming a job id is new each time). */
const MAX_MESSAGES = 100;

/**
 * Warnings about a dependency that keeps failing, said once per outage rather than once per retry. With
 * Redis away, every client reconnects with backoff and each of its queues and workers reports every
 * attempt: a worker of the example shop wrote 140 lines in 22 s. Here the first error of each message is
 * logged as it comes; repeats of the same message (from any source) are counted and summed up in one line
 * at most every `every` ms; `recovered()` says, once, that the dependency answers again and how many errors
 * its outage caused. A new message (another error than the connection's) is always logged at once.
 * Example: `client.on('error', (e) => outages.failed('Queue mail', e)); client.on('ready', () => outages.recovered())`.
 */
export class OutageLog {
  private readonly repeats = new Map<string, Repeats>();

  constructor(
    private readonly logger: Pick<LoggerService, 'warn' | 'log'>,
    /** What fails, as the recovery line names it: "Redis (jobs)". */
    private readonly dependency: string,
    private readonly every = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** An error reported by `source` (a queue, a worker, a connection). */
  failed(source: string, error: Error): void {
    const message = error.message;
    const at = this.now();
    let seen = this.repeats.get(message);
    if (seen && at - seen.lastSeen > this.every) {
      // Quiet for a whole period: that run is over, and this error starts a new one.
      this.summarise(message, seen, seen.lastSeen);
      this.repeats.delete(message);
      seen = undefined;
    }
    if (!seen) {
      this.forgetQuiet(at);
      this.repeats.set(message, {
        since: at,
        lastLine: at,
        lastSeen: at,
        total: 1,
        unlogged: 0,
        sources: new Set(),
      });
      this.logger.warn(`${source}: ${message}`);
      return;
    }
    seen.total += 1;
    seen.unlogged += 1;
    seen.lastSeen = at;
    seen.sources.add(source);
    if (at - seen.lastLine >= this.every) {
      this.summarise(message, seen, at);
    }
  }

  /** The dependency answers again: one line if it had failed, and the next error is logged at once. */
  recovered(): void {
    if (this.repeats.size === 0) {
      return;
    }
    const since = Math.min(...[...this.repeats.values()].map((r) => r.since));
    const total = [...this.repeats.values()].reduce((sum, r) => sum + r.total, 0);
    this.repeats.clear();
    this.logger.log(
      `${this.dependency} is reachable again after ${Math.round((this.now() - since) / 1000)} s (${total} ${total === 1 ? 'error' : 'errors'} while it was not)`,
    );
  }

  /** The line for the repeats of `message` not logged yet, if any. */
  private summarise(message: string, seen: Repeats, at: number): void {
    if (seen.unlogged > 0) {
      this.logger.warn(
        `${message}: ${seen.unlogged} more ${seen.unlogged === 1 ? 'time' : 'times'} in ${Math.round((at - seen.lastLine) / 1000)} s, from ${this.named(seen.sources)} (failing for ${Math.round((at - seen.since) / 1000)} s)`,
      );
    }
    seen.lastLine = at;
    seen.unlogged = 0;
    seen.sources = new Set();
  }

  /**
   * Past MAX_MESSAGES, drops the messages quiet for a whole period, and the oldest beyond twice as many
   * (their repeats summed up first).
   */
  private forgetQuiet(at: number): void {
    if (this.repeats.size < MAX_MESSAGES) {
      return;
    }
    for (const [message, seen] of this.repeats) {
      if (at - seen.lastSeen > this.every || this.repeats.size >= MAX_MESSAGES * 2) {
        this.summarise(message, seen, Math.min(at, seen.lastSeen));
        this.repeats.delete(message);
      }
    }
  }

  private named(sources: Set<string>): string {
    const names = [...sources];
    const more = names.length - NAMED_SOURCES;
    return names.slice(0, NAMED_SOURCES).join(', ') + (more > 0 ? ` and ${more} more` : '');
  }
}
