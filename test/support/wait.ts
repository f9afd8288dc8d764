/** Resolves after `ms` milliseconds. Use only to prove something does NOT happen; poll with waitFor otherwise. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Missing = undefined | null | false;

/**
 * Polls `probe` every 25 ms until it returns a truthy value, failing with `what` after `timeoutMs`. Generous by
 * default: the suite runs two files at once on two cores, so background work can lag.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Missing | Promise<T | Missing>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(25);
  }
}
