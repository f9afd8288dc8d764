import { createHash } from 'node:crypto';
import { etagOf, jsonOf } from 'src/framework/resource/resource-rows';

describe('etagOf / jsonOf', () => {
  const row = { id: 1, name: 'Lamp', price: '12.50', createdAt: new Date('2026-01-02T03:04:05Z') };

  it('gives the SHA-1 of the row JSON, base64url, quoted (the values clients already hold)', () => {
    const sha1 = createHash('sha1').update(JSON.stringify(row)).digest('base64url');
    expect(etagOf(row)).toBe(`"${sha1}"`);
  });

  it('answers the JSON of the row just hashed, and stringifies any other row', () => {
    etagOf(row);
    expect(jsonOf(row)).toBe(JSON.stringify(row));
    const other = { ...row, name: 'Desk' };
    expect(jsonOf(other)).toBe(JSON.stringify(other));
    etagOf(other);
    expect(jsonOf(row)).toBe(JSON.stringify(row));
  });

  it('reuses the hashed JSON even when other rows were hashed in between (concurrent GETs)', () => {
    const first = { id: 2, name: 'Chair' };
    const second = { id: 3, name: 'Table' };
    etagOf(first);
    etagOf(second);
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      expect(jsonOf(first)).toBe('{"id":2,"name":"Chair"}');
      expect(jsonOf(second)).toBe('{"id":3,"name":"Table"}');
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
  });

  it('keeps the JSON off copies of the row and out of its own JSON', () => {
    const hashed = { id: 4, name: 'Shelf' };
    etagOf(hashed);
    const copy: Record<string, unknown> = { ...hashed, name: 'Bench' };
    expect(jsonOf(copy)).toBe('{"id":4,"name":"Bench"}');
    expect(JSON.stringify(hashed)).toBe('{"id":4,"name":"Shelf"}');
    expect(Object.keys(hashed)).toEqual(['id', 'name']);
  });
});
