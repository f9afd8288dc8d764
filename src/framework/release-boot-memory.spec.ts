import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { releaseBootMemory } from 'src/framework/release-boot-memory';

const youngGenerationBytes = (): number =>
  getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.physical_space_size;

/** Many objects that survive a few scavenges, then die, as while modules load: V8 grows its young generation. */
function allocateAsBootDoes(): number {
  const kept: object[] = [];
  for (let i = 0; i < 2_000_000; i++) {
    kept.push({ i });
  }
  return kept.length;
}

describe('releaseBootMemory', () => {
  it('gives back the young generation that boot-like allocation grew', () => {
    allocateAsBootDoes();
    const before = youngGenerationBytes();
    expect(releaseBootMemory()).toBe(true);
    const after = youngGenerationBytes();
    // Node 20's V8 has no memory-reducing collection to ask for: there it only must not grow.
    const canShrink = Number(process.versions.node.split('.')[0]) >= 22;
    expect(after).toBeLessThanOrEqual(canShrink ? before / 2 : before);
  });

  it('leaves no `gc` function to the app or to later vm contexts', () => {
    const hadGc = 'gc' in globalThis; // `node --expose-gc` would have put one there already
    releaseBootMemory();
    expect('gc' in globalThis).toBe(hadGc);
    expect(runInNewContext('typeof gc')).toBe(hadGc ? 'function' : 'undefined');
  });
});
