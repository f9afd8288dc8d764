import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

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
