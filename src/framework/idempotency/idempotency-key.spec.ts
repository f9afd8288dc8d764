import type { Principal } from 'src/framework/access/principal';
import { ProblemException } from 'src/framework/http/problem';
import {
  IDEMPOTENCY_PROBLEMS,
  callerScope,
  idempotencyKeyOf,
  requestFingerprint,
} from 'src/framework/idempotency/idempotency-key';
import { verdict } from 'src/framework/idempotency/idempotency.store';

const raw = (...values: string[]) => values.flatMap((value) => ['Idempotency-Key', value]);

describe(idempotencyKeyOf.name, () => {
  it('reads a structured-field string, escapes included, and a bare key as the same key', () => {
    expect(idempotencyKeyOf(raw('"8e03978e-40d5"'))).toBe('8e03978e-40d5');
    expect(idempotencyKeyOf(raw('8e03978e-40d5'))).toBe('8e03978e-40d5');
    expect(idempotencyKeyOf(raw('"a \\"quoted\\" key"'))).toBe('a "quoted" key');
    expect(idempotencyKeyOf(['idempotency-key', ` "${'k'.repeat(255)}" `])).toBe('k'.repeat(255));
  });

  it('is undefined without the header', () => {
    expect(idempotencyKeyOf(['Content-Type', 'application/json'])).toBeUndefined();
  });

  it.each([
    ['two fields', raw('"a"', '"b"')],
    ['an empty key', raw('""')],
    ['256 characters', raw('k'.repeat(256))],
    ['a token with a comma', raw('a,b')],
    ['a non-ASCII character', raw('"clé"')],
    ['a bad escape', raw('"a\\b"')],
    ['parameters', raw('"a";x=1')],
    ['a number', raw('"1" 2')],
  ])('refuses %s with a 400 problem', (_what, headers) => {
    let thrown: unknown;
    try {
      idempotencyKeyOf(headers);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProblemException);
    expect((thrown as ProblemException).problem).toMatchObject({
      status: 400,
      type: IDEMPOTENCY_PROBLEMS.invalid,
    });
  });
});

describe(requestFingerprint.name, () => {
  const base = { method: 'POST', url: '/api/orders', body: { items: [{ productId: 1, quantity: 2 }] } };

  it('is the same for the same request whatever the key order of its body', () => {
    const sut = requestFingerprint(base);
    expect(sut).toMatch(/^[0-9a-f]{64}$/);
    expect(requestFingerprint({ ...base, body: { items: [{ quantity: 2, productId: 1 }] } })).toBe(sut);
    expect(requestFingerprint({ ...base, method: 'post' })).toBe(sut);
  });

  it('changes with the method, the path and query, If-Match, and any value of the body', () => {
    const sut = requestFingerprint(base);
    for (const other of [
      { ...base, method: 'PATCH' },
      { ...base, url: '/api/orders?x=1' },
      { ...base, ifMatch: '"abc"' },
      { ...base, body: { items: [{ productId: 1, quantity: 3 }] } },
      { ...base, body: { items: [{ productId: 1, quantity: 2 }], note: null } },
      { ...base, body: undefined },
    ]) {
      expect(requestFingerprint(other)).not.toBe(sut);
    }
  });
});

describe(callerScope.name, () => {
  const user = { userId: 7, via: 'jwt' } as Principal;

  it('is the user, the API key, or the client address of an anonymous caller', () => {
    expect(callerScope(user, '10.0.0.1')).toBe('user:7');
    expect(callerScope({ ...user, via: 'session' }, '10.0.0.1')).toBe('user:7');
    expect(callerScope({ ...user, via: 'api-key', apiKeyId: 3 }, '10.0.0.1')).toBe('api-key:3');
    expect(callerScope(undefined, '2001:db8::1')).toBe('anonymous:2001:db8::1');
  });
});

describe(verdict.name, () => {
  const response = { status: 201, headers: {}, body: Buffer.from('{}') };
  const record = { fingerprint: 'f', committed: false, leased: true };

  it('replays a finished request, refuses another request, and tells running from lost', () => {
    expect(verdict({ ...record, response, committed: true, leased: false }, 'f')).toEqual({
      kind: 'replay',
      response,
    });
    expect(verdict({ ...record, response }, 'g')).toEqual({ kind: 'mismatch' });
    expect(verdict(record, 'g')).toEqual({ kind: 'mismatch' });
    expect(verdict(record, 'f')).toEqual({ kind: 'in-progress' });
    // Committed and still leased: the response is being stored right now.
    expect(verdict({ ...record, committed: true }, 'f')).toEqual({ kind: 'in-progress' });
    expect(verdict({ ...record, committed: true, leased: false }, 'f')).toEqual({ kind: 'lost' });
  });
});
