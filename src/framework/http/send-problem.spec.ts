import { clipText, pathOf } from 'src/framework/http/send-problem';

describe(clipText.name, () => {
  it('keeps a text within the limit', () => {
    expect(clipText('short', 5)).toBe('short');
  });

  it('cuts a longer text to the limit, ellipsis included', () => {
    const sut = clipText('x'.repeat(300), 10);

    expect(sut).toBe(`${'x'.repeat(9)}…`);
    expect(sut).toHaveLength(10);
  });

  it('never splits a surrogate pair', () => {
    const sut = clipText(`${'a'.repeat(8)}😀😀`, 10);

    expect(sut).toBe(`${'a'.repeat(8)}…`);
  });
});

describe(pathOf.name, () => {
  it('drops the query', () => {
    expect(pathOf('/api/auth/me?token=secret')).toBe('/api/auth/me');
    expect(pathOf('/api/products')).toBe('/api/products');
  });
});
