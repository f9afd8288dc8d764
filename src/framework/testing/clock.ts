import { withGlobal } from '@sinonjs/fake-timers';

type InstalledClock = ReturnType<ReturnType<typeof withGlobal>['install']>;

/**
 * Controls what `Date` says (and only `Date`: timers, the database and I/O keep running), to test
 * expiry: tokens, one-time links, schedules computed in JavaScript.
 * Example: `clock.freeze(); clock.advance(16 * 60_000); … clock.restore();`
 */
export interface TestClock {
  /** Stops `Date` at `at` (default: now) until `advance` or `restore`. Freezing again moves it to `at`. */
  freeze(at?: Date | number | string): void;
  /** Moves the frozen clock forward by `ms` (freezes it at the current time first if needed). */
  advance(ms: number): void;
  /** What `Date.now()` says. */
  now(): number;
  /** Whether `Date` is faked. */
  readonly frozen: boolean;
  /** Gives `Date` back its real clock. Safe to call when not frozen. */
  restore(): void;
}

/**
 * A clock that fakes `Date` with @sinonjs/fake-timers; `createTestApp()` gives one as `t.clock` and
 * restores it on `t.close()`. Example: `const clock = useClock(); afterEach(() => clock.restore());`
 */
export function useClock(): TestClock {
  let installed: InstalledClock | undefined;
  const toMs = (at: Date | number | string): number => (typeof at === 'number' ? at : new Date(at).getTime());
  const clock: TestClock = {
    freeze(at = Date.now()) {
      if (installed) {
        installed.setSystemTime(toMs(at));
        return;
      }
      // Only Date: setTimeout, setImmediate, nextTick and performance stay real, so pg, Fastify and the
      // job runner work as usual while the wall clock stands still.
      installed = withGlobal(globalThis).install({ now: toMs(at), toFake: ['Date'] });
    },
    advance(ms) {
      if (!installed) {
        clock.freeze();
      }
      installed!.setSystemTime(installed!.now + ms);
    },
    now: () => Date.now(),
    get frozen() {
      return installed !== undefined;
    },
    restore() {
      installed?.uninstall();
      installed = undefined;
    },
  };
  return clock;
}
