import { getMetadataStorage } from 'class-validator';

type Storage = ReturnType<typeof getMetadataStorage>;
type Lookup = Storage['getTargetValidationMetadatas'];

const INSTALLED = Symbol.for('nestor.validationMetadataCache');

/**
 * Memoizes class-validator's rule lookup per class. Uncached, every `validate()` filters the class's rules
 * and tests the class against every validated class of the app for inheritance (`instanceof`, ~5 µs in the
 * example shop, paid by each job payload twice); the answer only changes when a decorator adds a rule,
 * which empties the cache. Callers only read the arrays it returns. Idempotent (one install per storage).
 * Example: `cacheValidationMetadata()` once at boot, before the first `validate()`.
 */
export function cacheValidationMetadata(): void {
  const storage = getMetadataStorage() as Storage & { [INSTALLED]?: true };
  if (storage[INSTALLED] || typeof storage.getTargetValidationMetadatas !== 'function') {
    return;
  }
  storage[INSTALLED] = true;
  const lookup: Lookup = storage.getTargetValidationMetadatas.bind(storage);
  const addRule = storage.addValidationMetadata.bind(storage);
  let cache = new Map<unknown, Map<string, ReturnType<Lookup>>>();
  storage.addValidationMetadata = (metadata) => {
    cache = new Map();
    addRule(metadata);
  };
  storage.getTargetValidationMetadatas = (target, schema, always, strictGroups, groups) => {
    const key = `${schema}\u0000${always}\u0000${strictGroups}\u0000${groups?.join('\u0000') ?? ''}`;
    let byOptions = cache.get(target);
    if (!byOptions) {
      byOptions = new Map();
      cache.set(target, byOptions);
    }
    let rules = byOptions.get(key);
    if (!rules) {
      rules = lookup(target, schema, always, strictGroups, groups);
      byOptions.set(key, rules);
    }
    return rules;
  };
}
