import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { median } from 'test/bench/load';

/**
 * Above this spread between the fastest and the slowest speed probe, the report says the machine drifted.
 * On an idle 2-core VM here, 12 probes a second apart spread 15 %; within a benchmark run they spread 70 %.
 */
const DRIFT_FLAG = 0.25;

/** A fixed piece of CPU work (JSON and hashing, as a request does); its time is the machine's speed. */
function task(): number {
  const row = {
    id: 4711,
    name: 'Speed probe',
    description: 'x'.repeat(200),
    price: '19.99',
    tags: [1, 2, 3],
    createdAt: '2026-12-05T00:00:00.000Z',
  };
  let digest = 0;
  for (let i = 0; i < 12_000; i++) {
    const json = JSON.stringify({ ...row, id: i });
    digest ^= createHash('sha1').update(json).digest()[0] ^ (JSON.parse(json) as { id: number }).id;
  }
  return digest;
}

/** One probe: the fastest of five timings, so a short interruption does not count as a slower machine. */
function timeTask(): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = process.hrtime.bigint();
    task();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

/**
 * What the machine did during a run, beside the load average at its two ends: the 1-minute load average
 * sampled every few seconds, and the time of a fixed CPU task probed while no load runs (before each scenario
 * and at the end). A VM that shares its cores shows no steal time here, so a change of the machine's speed
 * within a run is only visible as the same work taking longer.
 * Example: `const watch = new MachineWatch(); watch.probe('list'); … watch.stop(); report(watch.lines())`.
 */
export class MachineWatch {
  private readonly loads: number[] = [];
  private readonly probes: { at: string; ms: number }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 2_000) {
    this.sampleLoad();
    this.timer = setInterval(() => this.sampleLoad(), intervalMs);
    this.timer.unref();
    timeTask(); // compiled and warm before the first probe counts
  }

  /** Times the task now (call it with no load running); `at` names the moment in the report. */
  probe(at: string): number {
    const ms = timeTask();
    this.probes.push({ at, ms });
    return ms;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sampleLoad();
  }

  /** The fastest and slowest probe's spread: (slowest − fastest) / fastest. */
  drift(): number {
    const times = this.probes.map((p) => p.ms);
    return times.length < 2 ? 0 : (Math.max(...times) - Math.min(...times)) / Math.min(...times);
  }

  /** The report's lines on load and speed during the run. */
  lines(): string[] {
    const lines = [
      `- 1-minute load average sampled every 2 s during the run (the benchmark's own processes included): median ${median(this.loads).toFixed(2)}, highest ${Math.max(...this.loads).toFixed(2)}`,
    ];
    if (this.probes.length > 0) {
      const fastest = this.probes.reduce((a, b) => (b.ms < a.ms ? b : a));
      const slowest = this.probes.reduce((a, b) => (b.ms > a.ms ? b : a));
      const drift = this.drift();
      lines.push(
        `- Machine speed: a fixed CPU task timed with no load running, before each scenario and at the end (${this.probes.length} probes): fastest ${fastest.ms.toFixed(1)} ms (${fastest.at}), slowest ${slowest.ms.toFixed(1)} ms (${slowest.at}), ${(100 * drift).toFixed(0)} % apart${
          drift > DRIFT_FLAG
            ? ` — **the machine's speed changed within the run: compare ratios within one scenario, not req/s or µs across scenarios**`
            : ''
        }`,
      );
    }
    return lines;
  }

  private sampleLoad(): void {
    this.loads.push(loadavg()[0]);
  }
}
