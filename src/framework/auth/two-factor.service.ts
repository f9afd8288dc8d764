import { createHmac, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type * as Otplib from 'otplib';
import { DataSource } from 'typeorm';
import { verifyPassword } from 'src/framework/auth/passwords';
import { forbidden, unauthorized } from 'src/framework/access/problems';
import { Keyring } from 'src/framework/crypto/secret-box';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { sha256 } from 'src/framework/auth/token.service';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { validationProblem } from 'src/framework/http/validation';
import { lazyModule } from 'src/framework/lazy-module';

const otplib = lazyModule<typeof Otplib>('otplib');

/** Login problem types for 2FA accounts: only ever sent after the password was right. */
export const OTP_REQUIRED = 'urn:nestor:problem:otp-required';
export const OTP_INVALID = 'urn:nestor:problem:otp-invalid';

/** Shown as the account's issuer in authenticator apps. */
export const TOTP_ISSUER = 'Nestor';
export const RECOVERY_CODE_COUNT = 10;

/**
 * Codes from the current 30-second step and the one on either side are accepted (clock drift, typing
 * time); each step only once per account.
 */
const TOTP_TOLERANCE_SECONDS = 30;

/** Crockford's base32 in lower case: no i, l, o, u. */
const RECOVERY_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

interface TotpRow {
  totpSecret: string | null;
  totpEnabled: boolean;
  totpLastStep: number | null;
  recoveryCodesLeft: number;
}

export interface TwoFactorStatus {
  enabled: boolean;
  /** Set up but not enabled yet (waiting for `POST /api/auth/2fa/enable`). */
  pending: boolean;
  recoveryCodesLeft: number;
}

function problem401(type: string, title: string, detail: string): ProblemException {
  const base = unauthorized(detail);
  return new ProblemException({ ...base.problem, type, title }, base.headers);
}

export function otpRequired(): ProblemException {
  return problem401(
    OTP_REQUIRED,
    'One-time code required',
    'This account uses two-factor authentication: send the code from the authenticator app (or a recovery code) as otp.',
  );
}

export function otpInvalid(): ProblemException {
  return problem401(
    OTP_INVALID,
    'Invalid one-time code',
    'The one-time code is wrong, expired or was already used.',
  );
}

function conflict(detail: string): ProblemException {
  return new ProblemException({ type: PROBLEM_TYPES.conflict, title: 'Conflict', status: 409, detail });
}

/** Case, spaces and dashes do not matter; o/i/l read as 0/1 (Crockford's base32 has no o, i, l). */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
}

/**
 * `xxxx-xxxx-xxxx-xxxx`: 80 random bits. ASVS V2.6.2 asks for 112 bits, or a salted hash below that: these
 * are stored as an HMAC under a key derived from SECRET_KEY and bound to the user, so a leaked table cannot
 * even be searched without the key; online guessing meets the login throttle. 256 is a multiple of 32, so
 * `byte % 32` favours no character.
 */
function newRecoveryCode(): string {
  const chars = [...randomBytes(16)].map((byte) => RECOVERY_ALPHABET[byte % 32]).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/** Codes issued before 80-bit keyed codes: 10 characters, stored as their plain SHA-256 (still accepted). */
const LEGACY_RECOVERY_CODE_LENGTH = 10;

/**
 * TOTP two-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s, as authenticator apps expect).
 * Secrets are stored sealed with AES-256-GCM under a key derived from SECRET_KEY (purpose `totp`) and bound
 * to the user's id; recovery codes are stored as HMAC-SHA256 under a key derived from SECRET_KEY (purpose
 * `recovery-codes`), bound to the user's id, and work once each; the time step of the last accepted code is
 * stored, so a code cannot be replayed. Both accept SECRET_KEY_FALLBACKS during a key rotation; a secret
 * stored in clear (imported, or written before encryption at rest) still works until `nestor rotate-secrets`
 * seals it.
 */
@Injectable()
export class TwoFactorService {
  private readonly keys: Keyring;
  private readonly recoveryKeys: Keyring;

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: SecurityEvents,
    config: NestorConfig,
  ) {
    this.keys = new Keyring('totp', config.secretKey, config.secretKeyFallbacks);
    this.recoveryKeys = new Keyring('recovery-codes', config.secretKey, config.secretKeyFallbacks);
  }

  async status(userId: number): Promise<TwoFactorStatus> {
    const row = await this.load(userId);
    return {
      enabled: row.totpEnabled,
      pending: !row.totpEnabled && row.totpSecret !== null,
      recoveryCodesLeft: row.totpEnabled ? row.recoveryCodesLeft : 0,
    };
  }

  /**
   * A new secret for an account without 2FA (replacing an unconfirmed one). It is returned once, as base32
   * and as an `otpauth://` URI for a QR code; 2FA is on only after `enable` confirms a code.
   */
  async setup(userId: number, email: string): Promise<{ secret: string; otpauthUri: string }> {
    const { generateSecret, generateURI } = otplib();
    const secret = generateSecret();
    const [updated] = await this.dataSource.query<{ id: number }[]>(
      `WITH updated AS (
         UPDATE "user" SET "totpSecret" = $2, "totpLastStep" = NULL, "totpRecoveryCodes" = '[]'
          WHERE id = $1 AND NOT "totpEnabled" RETURNING id)
       SELECT id FROM updated`,
      [userId, this.seal(userId, secret)],
    );
    if (!updated) {
      throw conflict(
        'Two-factor authentication is already enabled. Disable it first to use a new authenticator.',
      );
    }
    return { secret, otpauthUri: generateURI({ issuer: TOTP_ISSUER, label: email, secret }) };
  }

  /** Confirms the set-up secret with a current code, turns 2FA on and returns the recovery codes (once). */
  async enable(userId: number, code: string): Promise<{ recoveryCodes: string[] }> {
    const row = await this.load(userId);
    if (row.totpEnabled) {
      throw conflict('Two-factor authentication is already enabled.');
    }
    if (!row.totpSecret) {
      throw conflict('Set up two-factor authentication first: POST /api/auth/2fa/setup.');
    }
    const step = await this.matchTotp(userId, row.totpSecret, code, row.totpLastStep);
    if (step === undefined) {
      throw validationProblem([
        { pointer: '/code', code: 'invalid', message: 'code is not the current code of the authenticator' },
      ]);
    }
    const { recoveryCodes, hashes } = this.newRecoveryCodes(userId);
    const [updated] = await this.dataSource.query<{ id: number }[]>(
      `WITH updated AS (
         UPDATE "user" SET "totpEnabled" = true, "totpRecoveryCodes" = $3::jsonb, "totpLastStep" = $4
          WHERE id = $1 AND NOT "totpEnabled" AND "totpSecret" = $2 RETURNING id)
       SELECT id FROM updated`,
      [userId, row.totpSecret, JSON.stringify(hashes), step],
    );
    if (!updated) {
      throw conflict('Two-factor authentication changed meanwhile. Set it up again.');
    }
    return { recoveryCodes };
  }

  /**
   * Replaces the recovery codes with a new set (all earlier ones stop working), after a current code or a
   * recovery code of the account; a wrong one → 403. Returns the new codes (once).
   */
  async replaceRecoveryCodes(userId: number, code: string): Promise<{ recoveryCodes: string[] }> {
    if (!(await this.status(userId)).enabled) {
      throw conflict('Two-factor authentication is off: turn it on to get recovery codes.');
    }
    if (!(await this.consume(userId, code))) {
      throw forbidden('The code is wrong.');
    }
    const { recoveryCodes, hashes } = this.newRecoveryCodes(userId);
    await this.dataSource.query(
      'UPDATE "user" SET "totpRecoveryCodes" = $2::jsonb WHERE id = $1 AND "totpEnabled"',
      [userId, JSON.stringify(hashes)],
    );
    return { recoveryCodes };
  }

  /** The second factor of a login: `verifySecondFactor` for `AuthService.login`. */
  async verifyLogin(userId: number, otp: string | undefined): Promise<void> {
    if (otp === undefined || otp.trim() === '') {
      throw otpRequired();
    }
    if (!(await this.consume(userId, otp))) {
      throw otpInvalid();
    }
  }

  /**
   * Turns 2FA off after re-authentication with the password or a code (TOTP or recovery); wrong → 403.
   * Clears the secret and the recovery codes.
   */
  async disable(userId: number, proof: { password?: string; code?: string }): Promise<void> {
    if (proof.password === undefined && proof.code === undefined) {
      throw validationProblem([
        { pointer: '/password', code: 'required', message: 'send password or code' },
        { pointer: '/code', code: 'required', message: 'send password or code' },
      ]);
    }
    let ok = false;
    if (proof.password !== undefined) {
      const [user] = await this.dataSource.query<{ passwordHash: string | null }[]>(
        'SELECT "passwordHash" FROM "user" WHERE id = $1',
        [userId],
      );
      ok = await verifyPassword(user?.passwordHash, proof.password);
    } else if (proof.code !== undefined) {
      ok = await this.consume(userId, proof.code);
    }
    if (!ok) {
      throw forbidden('The password or code is wrong.');
    }
    await this.dataSource.query(
      `UPDATE "user" SET "totpEnabled" = false, "totpSecret" = NULL, "totpRecoveryCodes" = '[]',
              "totpLastStep" = NULL WHERE id = $1`,
      [userId],
    );
  }

  /**
   * True when `code` is a TOTP code of an accepted step later than the last one used, or an unused recovery
   * code; either is spent by one conditional UPDATE, so parallel uses of one code let exactly one through.
   */
  async consume(userId: number, code: string): Promise<boolean> {
    const row = await this.load(userId);
    if (!row.totpEnabled || !row.totpSecret) {
      return false;
    }
    const digits = code.replace(/\s/g, '');
    if (/^\d{6}$/.test(digits)) {
      const step = await this.matchTotp(userId, row.totpSecret, digits, row.totpLastStep);
      if (step === undefined) {
        return false;
      }
      const spent = await this.dataSource.query<{ id: number }[]>(
        `WITH updated AS (
           UPDATE "user" SET "totpLastStep" = $2
            WHERE id = $1 AND "totpEnabled" AND ("totpLastStep" IS NULL OR "totpLastStep" < $2) RETURNING id)
         SELECT id FROM updated`,
        [userId, step],
      );
      return spent.length > 0;
    }
    const normalized = normalizeRecoveryCode(code);
    // Codes hashed under a key now in SECRET_KEY_FALLBACKS still count (a hash cannot be re-keyed).
    const hashes = this.recoveryKeys.macKeys().map((key) => this.recoveryHash(userId, normalized, key));
    if (normalized.length === LEGACY_RECOVERY_CODE_LENGTH) {
      hashes.push(sha256(normalized)); // issued before keyed hashes: valid until used or 2FA is reset
    }
    const spent = await this.dataSource.query<{ id: number }[]>(
      `WITH updated AS (
         UPDATE "user" SET "totpRecoveryCodes" = "totpRecoveryCodes" - $2::text[]
          WHERE id = $1 AND "totpEnabled" AND "totpRecoveryCodes" ?| $2::text[] RETURNING id)
       SELECT id FROM updated`,
      [userId, hashes],
    );
    if (spent.length > 0) {
      this.events.record('2fa.recovery-code-used', { userId });
    }
    return spent.length > 0;
  }

  /** The time step `code` belongs to when it is valid now and newer than `lastStep`. */
  private async matchTotp(
    userId: number,
    sealed: string,
    code: string,
    lastStep: number | null,
  ): Promise<number | undefined> {
    const token = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(token)) {
      return undefined;
    }
    const { plaintext: secret } = this.keys.open(sealed, this.context(userId), { legacyPlaintext: true });
    const result = await otplib().verify({ secret, token, epochTolerance: TOTP_TOLERANCE_SECONDS });
    if (!result.valid || !('timeStep' in result)) {
      return undefined;
    }
    if (lastStep !== null && result.timeStep <= lastStep) {
      // ASVS V2.8.5: a replayed code is refused and logged (someone else may have seen it).
      this.events.record('2fa.code-reused', { userId });
      return undefined;
    }
    return result.timeStep;
  }

  private async load(userId: number): Promise<TotpRow> {
    const [row] = await this.dataSource.query<TotpRow[]>(
      `SELECT "totpSecret", "totpEnabled", "totpLastStep",
              jsonb_array_length("totpRecoveryCodes")::int AS "recoveryCodesLeft"
         FROM "user" WHERE id = $1`,
      [userId],
    );
    if (!row) {
      throw unauthorized();
    }
    return row;
  }

  private newRecoveryCodes(userId: number): { recoveryCodes: string[]; hashes: string[] } {
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const [current] = this.recoveryKeys.macKeys();
    const hashes = recoveryCodes.map((c) => this.recoveryHash(userId, normalizeRecoveryCode(c), current));
    return { recoveryCodes, hashes };
  }

  /** `hmac:<hex>`: a keyed hash, so a leaked table cannot be searched offline without SECRET_KEY. */
  private recoveryHash(userId: number, normalized: string, key: Buffer): string {
    const mac = createHmac('sha256', key).update(`${userId}:${normalized}`).digest('hex');
    return `hmac:${mac}`;
  }

  private seal(userId: number, secret: string): string {
    return this.keys.seal(secret, this.context(userId));
  }

  /**
   * Re-seals every stored TOTP secret that is not sealed under the current SECRET_KEY (a fallback key's, or
   * in clear) and returns how many changed; `nestor rotate-secrets` runs it. Each row is replaced only if it
   * still holds the value read, so a concurrent set-up is never overwritten. A secret no key opens stops
   * the run (NST-A002): nothing is guessed or dropped.
   */
  async resealSecrets(): Promise<{ resealed: number; total: number }> {
    const rows = await this.dataSource.query<{ id: number; totpSecret: string }[]>(
      'SELECT id, "totpSecret" FROM "user" WHERE "totpSecret" IS NOT NULL ORDER BY id',
    );
    let resealed = 0;
    for (const { id, totpSecret } of rows) {
      const opened = this.keys.open(totpSecret, this.context(id), { legacyPlaintext: true });
      if (opened.current) {
        continue;
      }
      const [updated] = await this.dataSource.query<{ id: number }[]>(
        `WITH updated AS (UPDATE "user" SET "totpSecret" = $3 WHERE id = $1 AND "totpSecret" = $2 RETURNING id)
         SELECT id FROM updated`,
        [id, totpSecret, this.seal(id, opened.plaintext)],
      );
      resealed += updated ? 1 : 0;
    }
    return { resealed, total: rows.length };
  }

  private context(userId: number): string {
    return `nestor:totp:user:${userId}`;
  }
}
