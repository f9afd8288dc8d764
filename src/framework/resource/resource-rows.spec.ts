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
});
