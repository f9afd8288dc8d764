import { Keyring, isSealed } from 'src/framework/crypto/secret-box';

const OLD = 'o'.repeat(16) + 'ld-key-0123456789';
const NEW = 'n'.repeat(16) + 'ew-key-0123456789';

describe(Keyring.name, () => {
  it('seals under SECRET_KEY and opens what it sealed, bound to the context', () => {
    const sut = new Keyring('totp', NEW);
    const sealed = sut.seal('JBSWY3DPEHPK3PXP', 'totp:user:1');

    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(sut.open(sealed, 'totp:user:1')).toEqual({ plaintext: 'JBSWY3DPEHPK3PXP', current: true });
    expect(() => sut.open(sealed, 'totp:user:2')).toThrow('NST-A002');
  });

  it('opens with a fallback key, and says the value is not under the current key', () => {
    const sealed = new Keyring('totp', OLD).seal('secret', 'ctx');

    expect(new Keyring('totp', NEW, [OLD]).open(sealed, 'ctx')).toEqual({
      plaintext: 'secret',
      current: false,
    });
    expect(() => new Keyring('totp', NEW).open(sealed, 'ctx')).toThrow('NST-A002');
  });

  it('keeps purposes apart: a key of one purpose does not open another purpose', () => {
    const sealed = new Keyring('mail', NEW).seal('secret', 'ctx');

    expect(() => new Keyring('totp', NEW).open(sealed, 'ctx')).toThrow('NST-A002');
  });

  it('reads a legacy plaintext value only when asked to, and marks it for re-sealing', () => {
    const sut = new Keyring('totp', NEW);

    expect(sut.open('JBSWY3DPEHPK3PXP', 'ctx', { legacyPlaintext: true })).toEqual({
      plaintext: 'JBSWY3DPEHPK3PXP',
      current: false,
    });
    expect(() => sut.open('JBSWY3DPEHPK3PXP', 'ctx')).toThrow('NST-A001');
  });
});
