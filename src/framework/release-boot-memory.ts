import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * Hands the memory boot used and no longer needs back to the OS, once, when boot is over. Most of what
 * loading modules allocates survives, so V8 grows its young generation to the maximum, and keeps those pages
 * while the process idles: ~60 MB of the idle shop's RSS. V8's memory-reducing collection (the "last
 * resort" one it runs under memory pressure, which also shrinks the young generation) returns them; serving
 * then grows the heap only as far as traffic needs. Costs one pause of two full collections. Node 20's V8
 * has no such collection: there it is a plain full GC.
 * Returns false (and does nothing) where the runtime refuses to hand over its collector.
 * Example: `await app.listen(port); setTimeout(releaseBootMemory, 500).unref();`.
 */
export function releaseBootMemory(): boolean {
  const gc = (globalThis as { gc?: GcFunction }).gc ?? borrowGc();
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return gc !== undefined;
}

/**
 * V8 hands its `gc` only to contexts created while --expose-gc is on: one private context gets it, and the
 * flag goes back off, so neither the app's global nor any later vm context (Jest's) has a `gc`.
 */
function borrowGc(): GcFunction | undefined {
  try {
    setFlagsFromString('--expose-gc');
    try {
      return runInNewContext('typeof gc === "function" ? gc : undefined') as GcFunction | undefined;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  } catch {
    // A Node that refuses flags after start: memory stays as V8 leaves it, which is only less tidy.
    return undefined;
  }
}
