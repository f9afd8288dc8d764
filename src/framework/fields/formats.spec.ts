import { INT64_PATTERN, INTEGER_RANGES, integerRangePattern } from 'src/framework/fields/formats';

describe('integerRangePattern', () => {
  it.each([
    [-128n, 127n],
    [-32768n, 32767n],
    [0n, 0n],
    [-1n, 9n],
    [-10n, 10n],
    [-305n, 1999n],
    [0n, 1000n],
  ])('from %s to %s it matches exactly the numbers in range, leading zeros and -0 included', (min, max) => {
    const re = new RegExp(integerRangePattern(min, max), 'u');
    const wrong: string[] = [];
    for (let n = min - 50n; n <= max + 50n; n++) {
      const inRange = n >= min && n <= max;
      const spellings = [n.toString(), n < 0n ? `-00${-n}` : `00${n}`];
      for (const text of spellings) {
        if (re.test(text) !== inRange) {
          wrong.push(text);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(re.test('-0')).toBe(true);
    expect(['', '-', '+1', '1.0', '1e2', ' 1', '0x1', '--1'].filter((text) => re.test(text))).toEqual([]);
  });

  it('INT64_PATTERN holds PostgreSQL bigint values and no others, at every digit of the bounds', () => {
    const re = new RegExp(INT64_PATTERN, 'u');
    const { minimum, maximum } = INTEGER_RANGES.int64;
    const near = [0n, 1n, -1n, 10n ** 18n, 10n ** 18n - 1n, -(10n ** 18n)];
    // Every value one unit of each decimal place above and below the bounds.
    for (let place = 1n; place <= 10n ** 19n; place *= 10n) {
      near.push(maximum - place, maximum + place, minimum - place, minimum + place);
    }
    near.push(maximum, minimum, maximum + 1n, minimum - 1n, 10n ** 19n, -(10n ** 19n), 10n ** 20n);
    const wrong = near.filter((n) => re.test(n.toString()) !== (n >= minimum && n <= maximum));
    expect(wrong).toEqual([]);
  });
});
