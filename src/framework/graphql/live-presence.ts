import { randomBytes } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import type { MQEmitter, Message } from 'mqemitter';

/** How often a process repeats which topics it has subscribers on, and how long it waits for its echo. */
export interface PresenceTiming {
  /** Milliseconds between announcements; the others forget a topic 3 intervals after the last one. */
  interval: number;
  /** Milliseconds a subscription waits for its announcement to come back before it starts anyway. */
  wait: number;
}

/** What travels on the presence topic: one of `here`, `gone` or `who`. */
interface PresenceNote {
  /** The sending process (random, per LivePresence). */
  from: string;
  /** `here`: its announcements are numbered, so it knows when one came back. */
  seq?: number;
  /** `here`: milliseconds the receivers keep these topics live. */
  ttl?: number;
  /** Topics the sender has subscribers on. */
  here?: string[];
  /** Topics the sender no longer has subscribers on. */
  gone?: string[];
  /** A process that boots asks the others to announce now. */
  who?: boolean;
}

type Listener = (message: Message, done: () => void) => void;

const wildcard = (topic: string) => topic.includes('+') || topic.includes('#');

/**
 * Which live-update topics have a subscriber in some process, learnt on the emitter itself (Redis pub/sub
 * or in-process), so a write publishes only where someone listens. A process announces a topic on
 * `<prefix>/_presence` when its first subscriber comes, again every `interval` while it has any, and `gone`
 * when its last one leaves; every process keeps each topic live for 3 intervals after an announcement. A
 * subscription starts once its process's announcement came back through the emitter: Redis writes a
 * PUBLISH to every subscriber's socket as it runs it, so by then every process has it. Until a booting
 * process's `who` query came back and the others had `wait` ms to answer it, every topic counts as live.
 * Example: `if (presence.listened(topic)) emitter.emit({ topic, payload })`.
 */
export class LivePresence {
  private readonly id = randomBytes(8).toString('hex');
  private readonly topic: string;
  /** Subscribers in this process, per topic. */
  private readonly local = new Map<string, number>();
  /** This process's announcement of a topic (resolved when it came back). */
  private readonly announced = new Map<string, Promise<void>>();
  /** Per topic, each listening process's "live until" (ms since the epoch). */
  private readonly seen = new Map<string, Map<string, number>>();
  /** Per topic, the latest of `seen`: the hot path's one lookup. */
  private readonly live = new Map<string, number>();
  /** Every topic is live until then: during boot, and while a wildcard subscription is announced. */
  private allUntil = Number.POSITIVE_INFINITY;
  private bootUntil = Number.POSITIVE_INFINITY;
  private seq = 0;
  private closed = false;
  private retry?: NodeJS.Timeout;
  /** A note could not be published (logged once until one is). */
  private failing = false;
  private echoed = 0;
  private waiters: { seq: number; resolve: () => void }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly started: Promise<void>;

  constructor(
    private readonly emitter: MQEmitter,
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly timing: PresenceTiming,
  ) {
    this.topic = `${prefix}/_presence`;
    this.started = new Promise((resolve) => {
      emitter.on(
        this.topic,
        (message, done) => this.received(message, done),
        () => {
          this.ask();
          resolve();
        },
      );
    });
    this.timer = setInterval(() => this.repeat(), timing.interval).unref();
  }

  /** Whether some process has a subscriber on `topic` (a Map lookup: every committed write asks). */
  listened(topic: string): boolean {
    const now = Date.now();
    return this.allUntil > now || (this.live.get(topic) ?? 0) > now;
  }

  /**
   * Mercurius's emitter, counting subscriptions: a listener of a live-update topic is confirmed (`on`'s
   * callback) once this process's announcement of the topic has come back.
   */
  wrap(inner: MQEmitter): MQEmitter {
    const on = (topic: string, listener: Listener, done?: () => void) => {
      if (!this.tracks(topic)) {
        inner.on(topic, listener, done);
        return wrapped;
      }
      this.local.set(topic, (this.local.get(topic) ?? 0) + 1);
      inner.on(topic, listener, () => void this.confirm(topic).then(done));
      return wrapped;
    };
    const wrapped: MQEmitter = {
      get current() {
        return inner.current;
      },
      get concurrent() {
        return inner.concurrent;
      },
      on,
      emit: (message, callback) => inner.emit(message, callback),
      removeListener: (topic, listener, done) => {
        inner.removeListener(topic, listener, done);
        if (this.tracks(topic)) {
          this.leave(topic);
        }
      },
      close: (callback) => inner.close(callback),
    };
    return wrapped;
  }

  /** The emitter lost its connection: announcements may be missed, so every topic is live until `rejoin`. */
  blind(): void {
    this.allUntil = this.bootUntil = Number.POSITIVE_INFINITY;
  }

  /** Connected again: learns the others' topics afresh (as at boot) and announces its own. */
  rejoin(): void {
    this.ask();
    if (this.local.size > 0) {
      void this.announce([...this.local.keys()]);
    }
  }

  /** Stops announcing (the others forget this process's topics within 3 intervals). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    this.waiters.forEach((waiter) => waiter.resolve());
    this.waiters = [];
  }

  /** Topics of this prefix's live updates, or a wildcard that could match one. */
  private tracks(topic: string): boolean {
    if (topic === this.topic) {
      return false;
    }
    if (!wildcard(topic)) {
      return topic.startsWith(`${this.prefix}/`);
    }
    const levels = topic.split('/');
    const ours = this.prefix.split('/');
    for (let i = 0; i < ours.length; i++) {
      if (levels[i] === '#') {
        return true;
      }
      if (levels[i] !== '+' && levels[i] !== ours[i]) {
        return false;
      }
    }
    return true;
  }

  /** Resolves once the others know of this process's subscribers on `topic` (or after `wait`, logged). */
  private async confirm(topic: string): Promise<void> {
    if (!this.local.get(topic)) {
      return; // it left before the emitter confirmed its listener
    }
    let announced = this.announced.get(topic);
    if (!announced) {
      announced = this.announce([topic]);
      this.announced.set(topic, announced);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(true), this.timing.wait)),
    );
    if (await Promise.race([announced.then(() => false), late])) {
      this.logger.warn(
        `A subscription to ${topic} starts before its presence came back through the emitter ` +
          `(${this.timing.wait} ms): other processes may not publish to it until they receive it`,
      );
    }
    clearTimeout(timer);
  }

  private leave(topic: string): void {
    const count = (this.local.get(topic) ?? 0) - 1;
    if (count > 0) {
      this.local.set(topic, count);
      return;
    }
    this.local.delete(topic);
    this.announced.delete(topic);
    this.note({ from: this.id, gone: [topic] });
  }

  /** Announces topics; resolves when the announcement came back (so every process has received it). */
  private async announce(topics: string[]): Promise<void> {
    await this.started;
    const seq = ++this.seq;
    const echoed = new Promise<void>((resolve) => this.waiters.push({ seq, resolve }));
    this.note({ from: this.id, seq, ttl: 3 * this.timing.interval, here: topics });
    return echoed;
  }

  private repeat(): void {
    if (this.local.size > 0) {
      void this.announce([...this.local.keys()]);
    }
    const now = Date.now();
    for (const [topic, until] of this.live) {
      if (until <= now) {
        this.live.delete(topic);
        this.seen.delete(topic);
      }
    }
  }

  /** Asks the others to announce their topics now (at boot, and when the emitter is back). */
  private ask(): void {
    this.note({ from: this.id, who: true });
  }

  /** Publishes a note; after a failure (the emitter's connection is away), `recover` in `wait` ms. */
  private note(note: PresenceNote): void {
    this.emitter.emit({ topic: this.topic, note }, (error?: Error) => {
      if (!error) {
        this.failing = false;
        return;
      }
      if (!this.failing) {
        this.logger.warn(`Live updates' presence was not published (retried): ${error.message}`);
        this.failing = true;
      }
      this.retry ??= setTimeout(() => this.recover(), this.timing.wait).unref();
    });
  }

  /** Sends again what may have been lost: the boot query if unanswered, and this process's topics. */
  private recover(): void {
    this.retry = undefined;
    if (this.closed) {
      return;
    }
    if (this.bootUntil === Number.POSITIVE_INFINITY) {
      this.ask();
    }
    if (this.local.size > 0) {
      // A later announcement's echo also releases the waiters of one that was lost.
      void this.announce([...this.local.keys()]);
    }
  }

  private received(message: Message, done: () => void): void {
    done();
    const note = message.note as PresenceNote | undefined;
    if (!note?.from) {
      return; // not ours
    }
    const now = Date.now();
    if (note.who) {
      if (note.from === this.id) {
        // Booted: the others' answers to the query arrive within a round trip of it.
        this.bootUntil = now + this.timing.wait;
        this.everything(now);
      } else if (this.local.size > 0) {
        void this.announce([...this.local.keys()]);
      }
    }
    note.here?.forEach((topic) => this.mark(topic, note.from, now + (note.ttl ?? 0), now));
    note.gone?.forEach((topic) => this.mark(topic, note.from, 0, now));
    if (note.from === this.id && note.seq !== undefined) {
      this.echoed = Math.max(this.echoed, note.seq);
      const ready = this.waiters.filter((waiter) => waiter.seq <= this.echoed);
      this.waiters = this.waiters.filter((waiter) => waiter.seq > this.echoed);
      ready.forEach((waiter) => waiter.resolve());
    }
  }

  /** Records that `from` listens on `topic` until `until` (0: no longer). */
  private mark(topic: string, from: string, until: number, now: number): void {
    const processes = this.seen.get(topic) ?? new Map<string, number>();
    if (until > now) {
      processes.set(from, until);
    } else {
      processes.delete(from);
    }
    const latest = Math.max(0, ...[...processes.values()]);
    if (latest > now) {
      this.seen.set(topic, processes);
      this.live.set(topic, latest);
    } else {
      this.seen.delete(topic);
      this.live.delete(topic);
    }
    if (wildcard(topic)) {
      this.everything(now);
    }
  }

  /** Every topic is live during boot and while some wildcard subscription is. */
  private everything(now: number): void {
    let until = this.bootUntil;
    for (const [topic, latest] of this.live) {
      if (wildcard(topic) && latest > until) {
        until = latest;
      }
    }
    this.allUntil = until > now ? until : 0;
  }
}
