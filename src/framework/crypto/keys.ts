import { hkdfSync } from 'node:crypto';

/** A purpose-bound key derived from SECRET_KEY (HKDF-SHA256), so one secret never serves two uses. */
export function deriveKey(secretKey: string, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, 'nestor', purpose, length));
}
