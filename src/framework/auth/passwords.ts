import { Algorithm, hash, verify } from '@node-rs/argon2';

/** argon2id with OWASP's 2023 minimum (19 MiB, 2 passes, 1 lane). Raising these rehashes on next login. */
export const ARGON2_OPTIONS = {
  algorithm: Algorithm.Argon2id,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
};

/** Hash of a random password: verified against when the user does not exist, so timing reveals nothing. */
let dummy: Promise<string> | undefined;

/** Example: `user.passwordHash = await hashPassword(body.password)`. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/**
 * Verifies a password against a stored hash, or against a dummy hash when there is none (same cost).
 * Example: `if (!(await verifyPassword(user?.passwordHash, password))) throw unauthorized()`.
 */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (!stored) {
    dummy ??= hashPassword(`dummy-${Math.random()}`);
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}

/** True when a stored hash was made with other parameters than today's (Django's "must_update"). */
export function needsRehash(stored: string): boolean {
  const { memoryCost, timeCost, parallelism } = ARGON2_OPTIONS;
  return !stored.startsWith(`$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$`);
}
