import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKey } from 'src/framework/crypto/keys';

/** Format marker of sealed values, so the scheme can change later without guessing. */
const VERSION = 'v1';

/**
 * Encrypts a short secret with AES-256-GCM: `v1.<iv>.<tag>.<ciphertext>` (base64url parts). `context` is
 * authenticated but not stored (e.g. `totp:user:42`), so a sealed value copied to another row fails to open.
 * Example: `user.totpSecret = seal(deriveKey(config.secretKey, 'totp'), secret, `totp:user:${id}`)`.
 */
export function seal(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** Decrypts what `seal` produced with the same key and context; throws when anything was altered. */
export function open(key: Buffer, sealed: string, context: string): string {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
    throw new Error('NST-A001 Not a sealed value');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
    'utf8',
  );
}

/** Whether a stored value has the sealed format (anything else is a legacy plaintext value). */
export function isSealed(stored: string): boolean {
  return stored.startsWith(`${VERSION}.`);
}

/** What {@link Keyring.open} found: the secret, and whether it is sealed under the current key. */
export interface Opened {
  plaintext: string;
  /** False when a fallback key opened it, or it was stored in clear: `nestor rotate-secrets` re-seals it. */
  current: boolean;
}

/**
 * The keys of one purpose: derived from SECRET_KEY (seals and opens) and from each of SECRET_KEY_FALLBACKS
 * (open only, during a rotation), as Django's SECRET_KEY_FALLBACKS. AES-GCM's tag tells which key fits.
 * Example: `const ring = new Keyring('totp', config.secretKey, config.secretKeyFallbacks);
 * ring.open(ring.seal('JBSWY3DP', 'totp:user:1'), 'totp:user:1').plaintext` → `'JBSWY3DP'`.
 */
export class Keyring {
  private readonly current: Buffer;
  private readonly fallbacks: Buffer[];

  constructor(purpose: string, secretKey: string, fallbackKeys: readonly string[] = []) {
    this.current = deriveKey(secretKey, purpose);
    this.fallbacks = fallbackKeys.map((key) => deriveKey(key, purpose));
  }

  seal(plaintext: string, context: string): string {
    return seal(this.current, plaintext, context);
  }

  /**
   * Opens a value sealed under the current key or a fallback; with `legacyPlaintext`, a value without the
   * sealed format is taken as stored in clear (before encryption at rest). Throws when no key opens it.
   */
  open(stored: string, context: string, { legacyPlaintext = false } = {}): Opened {
    if (legacyPlaintext && !isSealed(stored)) {
      return { plaintext: stored, current: false };
    }
    for (const [index, key] of [this.current, ...this.fallbacks].entries()) {
      try {
        return { plaintext: open(key, stored, context), current: index === 0 };
      } catch (error) {
        if (!isSealed(stored)) {
          throw error;
        }
      }
    }
    throw new Error(
      'NST-A002 A sealed value opens with neither SECRET_KEY nor any of SECRET_KEY_FALLBACKS: restore the key it was sealed under to SECRET_KEY_FALLBACKS',
    );
  }

  /** The keys that may have produced a keyed hash, current first (HMACs cannot be re-keyed, only re-made). */
  macKeys(): Buffer[] {
    return [this.current, ...this.fallbacks];
  }
}
