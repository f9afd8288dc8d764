/**
 * Values built once per owner object (a fields array, a relation) and shape (a text key): statements and
 * select lists a request would otherwise build again. At most `bound` shapes per owner are kept: shapes
 * come from allow-lists (sorts, includes), so they are few and the bound is only a safeguard; beyond it a
 * value is built each time. Example: `cache.get(definition.readable, '-price,|category', build)`.
 */
export class ShapeCache<Owner extends object, Value> {
  private readonly byOwner = new WeakMap<Owner, Map<string, Value>>();

  constructor(private readonly bound = 200) {}

  /** The value kept for `owner` and `shape` (when `fresh` accepts it), else `build()`'s, kept. */
  get(owner: Owner, shape: string, build: () => Value, fresh?: (value: Value) => boolean): Value {
    let byShape = this.byOwner.get(owner);
    if (!byShape) {
      byShape = new Map();
      this.byOwner.set(owner, byShape);
    }
    const known = byShape.get(shape);
    if (known !== undefined && (!fresh || fresh(known))) {
      return known;
    }
    const value = build();
    if (byShape.size < this.bound || byShape.has(shape)) {
      byShape.set(shape, value);
    }
    return value;
  }
}
