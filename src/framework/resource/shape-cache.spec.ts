import { ShapeCache } from 'src/framework/resource/shape-cache';

describe('ShapeCache', () => {
  it('builds a value once per owner and shape', () => {
    const cache = new ShapeCache<object, string[]>();
    const a = {};
    const b = {};
    let builds = 0;
    const build = (text: string) => () => {
      builds++;
      return [text];
    };
    const first = cache.get(a, 'x', build('ax'));
    expect(cache.get(a, 'x', build('again'))).toBe(first);
    expect(cache.get(a, 'y', build('ay'))).toEqual(['ay']);
    expect(cache.get(b, 'x', build('bx'))).toEqual(['bx']);
    expect(builds).toBe(3);
  });

  it('builds again a value that is no longer fresh, and keeps the new one', () => {
    const cache = new ShapeCache<object, { target: number }>();
    const owner = {};
    // The target of the value kept (or built) for shape 's', when a kept value is fresh if its target is `fresh`.
    const read = (built: number, fresh: number): number =>
      cache.get(
        owner,
        's',
        () => ({ target: built }),
        (v) => v.target === fresh,
      ).target;
    expect(read(1, 1)).toBe(1);
    expect(read(2, 2)).toBe(2);
    expect(read(3, 2)).toBe(2);
  });

  it('keeps at most its bound of shapes per owner, and builds the others each time', () => {
    const cache = new ShapeCache<object, object>(2);
    const owner = {};
    const kept = [cache.get(owner, '1', () => ({})), cache.get(owner, '2', () => ({}))];
    expect(cache.get(owner, '1', () => ({}))).toBe(kept[0]);
    expect(cache.get(owner, '2', () => ({}))).toBe(kept[1]);
    const third = cache.get(owner, '3', () => ({}));
    expect(cache.get(owner, '3', () => ({}))).not.toBe(third);
  });
});
