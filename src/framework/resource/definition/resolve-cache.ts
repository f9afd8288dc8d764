import type { DefinitionContext } from 'src/framework/resource/definition/definition-types';

/** Whole seconds, at least `min`. */
function isSeconds(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

/**
 * Option `cache`: `ttl` whole seconds ≥ 1 (NST-R013), `maxAge` whole seconds from 0 to `ttl` (NST-R014),
 * nothing else (NST-R013); only on a resource that lists or gets (NST-R015).
 */
export function resolveCache(
  context: DefinitionContext,
  actions: ReadonlySet<string>,
): { ttlSeconds: number; maxAge: number } | undefined {
  const { options, fail } = context;
  const cache = options.cache as Record<string, unknown> | undefined;
  if (cache === undefined) {
    return undefined;
  }
  if (typeof cache !== 'object' || cache === null || !isSeconds(cache.ttl, 1)) {
    fail('NST-R013', `option "cache.ttl" must be a whole number of seconds ≥ 1, e.g. { cache: { ttl: 60 } }`);
  }
  const unknown = Object.keys(cache).filter((key) => key !== 'ttl' && key !== 'maxAge');
  if (unknown.length > 0) {
    fail('NST-R013', `option "cache" has unknown key(s) ${unknown.join(', ')} (known: ttl, maxAge)`);
  }
  const ttlSeconds = cache.ttl as number;
  const maxAge = cache.maxAge ?? 0;
  if (!isSeconds(maxAge, 0) || maxAge > ttlSeconds) {
    fail('NST-R014', `option "cache.maxAge" must be whole seconds from 0 to ttl (${ttlSeconds})`);
  }
  if (!actions.has('get') && !actions.has('list')) {
    fail('NST-R015', `option "cache" needs the "get" or "list" action: nothing else is cached`);
  }
  return { ttlSeconds, maxAge: maxAge as number };
}
