import { auditValue, diff, isSecretField } from 'src/framework/audit/audit-diff';

describe(diff.name, () => {
  it('lists only the changed fields as [before, after]', () => {
    const sut = diff(
      { name: 'Cup', price: '10.00', stock: 3, tagIds: [1, 2] },
      { name: 'Cup', price: '12.50', stock: 3, tagIds: [1, 2] },
    );
    expect(sut).toEqual({ price: ['10.00', '12.50'] });
  });

  it('a create (no before) lists the fields that were set, with null befores', () => {
    const sut = diff(null, { name: 'Cup', description: null, stock: 0, active: false, tagIds: [] });
    expect(sut).toEqual({ name: [null, 'Cup'], stock: [null, 0], active: [null, false] });
  });

  it('a delete (no after) lists the fields that had a value, with null afters', () => {
    const sut = diff({ name: 'Cup', description: null, tagIds: [2], groupIds: [] }, null);
    expect(sut).toEqual({ name: ['Cup', null], tagIds: [[2], null] });
  });

  it('uses the API representation: ISO dates, bigints as strings, JSON compared by value', () => {
    const deletedAt = new Date('2024-05-01T12:00:00.123Z');
    const sut = diff(
      { deletedAt: null, views: 1n, attributes: { size: 'L' }, tagIds: [1] },
      { deletedAt, views: 2n, attributes: { size: 'L' }, tagIds: [1, 3] },
    );
    expect(sut).toEqual({
      deletedAt: [null, '2024-05-01T12:00:00.123Z'],
      views: ['1', '2'],
      tagIds: [[1], [1, 3]],
    });
    // Equal instants in two Date objects are no change.
    expect(diff({ at: new Date(0) }, { at: new Date(0) })).toEqual({});
  });

  it('leaves out the omitted fields and anything that looks like a secret', () => {
    const sut = diff(
      { email: 'a@x.io', passwordHash: 'h1', totpSecret: 's1', reset_token: 't1', pin: '1' },
      { email: 'b@x.io', passwordHash: 'h2', totpSecret: 's2', reset_token: 't2', pin: '2' },
      new Set(['pin']),
    );
    expect(sut).toEqual({ email: ['a@x.io', 'b@x.io'] });
    expect(diff({ pin: '1' }, { pin: '2' }, ['pin'])).toEqual({});
  });

  it('treats a missing field and null alike (nothing changed), but an emptied list is a change', () => {
    expect(diff({ parentId: null }, {})).toEqual({});
    expect(diff({ tagIds: [1] }, { tagIds: [] })).toEqual({ tagIds: [[1], []] });
  });
});

describe(isSecretField.name, () => {
  it.each(['passwordHash', 'password', 'totpSecret', 'apiToken', 'refresh_token', 'salt', 'otp'])(
    '%s is secret',
    (name) => {
      expect(isSecretField(name)).toBe(true);
    },
  );

  it.each(['email', 'hashtag', 'tokenizer', 'totpEnabled', 'isStaff', 'description'])('%s is not', (name) => {
    expect(isSecretField(name)).toBe(false);
  });
});

describe(auditValue.name, () => {
  it('turns values into what the JSON response shows', () => {
    expect(auditValue(undefined)).toBeNull();
    expect(auditValue(Number.NaN)).toBeNull();
    expect(auditValue(new Date('2024-01-02T03:04:05.006Z'))).toBe('2024-01-02T03:04:05.006Z');
    expect(auditValue({ nested: { at: new Date(0), n: 5n } })).toEqual({
      nested: { at: '1970-01-01T00:00:00.000Z', n: '5' },
    });
  });
});
