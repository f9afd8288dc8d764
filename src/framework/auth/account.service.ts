import { randomBytes } from 'node:crypto';
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from 'src/framework/audit/audit.service';
import { normalizeEmail } from 'src/framework/auth/auth.service';
import type { OneTimeToken } from 'src/framework/auth/one-time-token.entity';
import { hashPassword, verifyPassword } from 'src/framework/auth/passwords';
import { type Principal, requireSession } from 'src/framework/access/principal';
import { SecurityEventFields, SecurityEventName, SecurityEvents } from 'src/framework/auth/security-events';
import { TokenService, sha256 } from 'src/framework/auth/token.service';
import { VERIFY_EMAIL_PAGE } from 'src/framework/auth/verify-email-page.controller';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { validationProblem } from 'src/framework/http/validation';
import { MailService } from 'src/framework/mail/mail.service';
import type { TwoFactorChange } from 'src/framework/mail/templates';

export type OneTimePurpose = OneTimeToken['purpose'];

/** How long an emailed token works: a reset link is a live credential, a verification link is not. */
export const ONE_TIME_TTL_SECONDS: Record<OneTimePurpose, number> = {
  'email-verify': 48 * 3600,
  'password-reset': 3600,
};

/** Account changes kept in the user's audit history and the security log. */
export type AccountChangeEvent = Extract<
  SecurityEventName,
  | 'password.changed'
  | 'password.reset'
  | 'password.set'
  | '2fa.enabled'
  | '2fa.disabled'
  | '2fa.recovery-codes-replaced'
  | 'api-key.created'
  | 'api-key.revoked'
  | 'identity.linked'
  | 'identity.unlinked'
>;

/** The request's principal from a JWT carries the refresh family of its session. */
export type SessionPrincipal = Principal & { family?: string };

const INVALID_TOKEN = 'The token is invalid, expired or already used.';

/**
 * Self-service account flows: registration, email verification, password change, forgot and reset.
 * Mail that could reveal whether an address has an account (registration, forgot password) is sent after
 * the response, so status, body and timing are the same either way; `settled()` waits for it.
 */
@Injectable()
export class AccountService implements OnModuleDestroy {
  private readonly logger = new Logger('Account');
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly tokens: TokenService,
    private readonly mail: MailService,
    private readonly config: NestorConfig,
    private readonly audit: AuditService,
    private readonly events: SecurityEvents,
  ) {}

  /**
   * Creates an active, unverified account and mails a verification link. An address that already has an
   * account gets a "you already have an account" mail instead and nothing changes; the caller cannot tell
   * the two apart (the password is hashed either way, the mail goes out after the response).
   */
  async register(email: string, password: string): Promise<void> {
    const address = normalizeEmail(email);
    const passwordHash = await hashPassword(password);
    // Privileges are literals here, never taken from the request.
    const [created] = await this.dataSource.query<{ id: number }[]>(
      `INSERT INTO "user" (email, "passwordHash", "isActive", "isStaff", "isSuperuser", "emailVerified")
       VALUES ($1, $2, true, false, false, false) ON CONFLICT (email) DO NOTHING RETURNING id`,
      [address, passwordHash],
    );
    this.afterResponse(() =>
      created ? this.sendVerification(created.id, address) : this.sendAlreadyRegistered(address),
    );
  }

  /** Spends an email-verification token and marks the address verified. */
  async verifyEmail(token: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const userId = await this.spend(manager, token, 'email-verify');
      await manager.query('UPDATE "user" SET "emailVerified" = true WHERE id = $1', [userId]);
    });
  }

  /** A new verification mail for a signed-in user (earlier links stop working); 409 when already verified. */
  async resendVerification(userId: number): Promise<void> {
    const [user] = await this.dataSource.query<{ email: string; emailVerified: boolean }[]>(
      'SELECT email, "emailVerified" FROM "user" WHERE id = $1',
      [userId],
    );
    if (!user || user.emailVerified) {
      throw new ProblemException({
        type: PROBLEM_TYPES.conflict,
        title: 'Conflict',
        status: 409,
        detail: 'The email address is already verified.',
      });
    }
    try {
      await this.sendVerification(userId, user.email);
    } catch (error) {
      this.logger.error(`Verification mail to user ${userId} failed: ${(error as Error).message}`);
      throw new ProblemException(
        {
          type: PROBLEM_TYPES.dependencyDown,
          title: 'Service Unavailable',
          status: 503,
          detail: 'The mail server is unavailable right now. Retry shortly.',
        },
        { 'retry-after': '30' },
      );
    }
  }

  /**
   * Changes the password of a signed-in user who knows the current one, then ends every other session
   * (refresh families) and any pending reset link; the calling session stays signed in. API keys may not
   * do this: a key scoped to a few permissions must not be able to take over its owner's account.
   */
  async changePassword(
    principal: SessionPrincipal,
    currentPassword: string,
    newPassword: string,
  ): Promise<void> {
    requireSession(principal, 'Changing the password');
    const [user] = await this.dataSource.query<{ email: string; passwordHash: string | null }[]>(
      'SELECT email, "passwordHash" FROM "user" WHERE id = $1',
      [principal.userId],
    );
    if (!(await verifyPassword(user?.passwordHash, currentPassword))) {
      throw validationProblem([
        {
          pointer: '/currentPassword',
          code: 'invalid',
          message: 'currentPassword is not the current password',
        },
      ]);
    }
    const passwordHash = await hashPassword(newPassword);
    await this.dataSource.transaction(async (manager) => {
      await manager.query('UPDATE "user" SET "passwordHash" = $2 WHERE id = $1', [
        principal.userId,
        passwordHash,
      ]);
      await this.expireTokens(manager, principal.userId, 'password-reset');
      // A JWT without a family (none issued by us today) ends every session, the safe side.
      await this.tokens.revokeUser(principal.userId, principal.family, manager);
      await this.recordAccountChange(manager, 'password.changed', principal.userId, principal);
    });
    this.afterResponse(() => this.sendPasswordChanged(user.email));
  }

  /**
   * Sets a user's password as an administrator does (admin action, `nestor changepassword`): no current
   * password, and every session, refresh family and pending reset link of the user ends.
   * Example: `await accounts.setPassword(userId, 'a new passphrase', manager)`.
   */
  async setPassword(
    userId: number,
    password: string,
    manager: EntityManager,
    actor?: Principal,
  ): Promise<void> {
    await manager.query('UPDATE "user" SET "passwordHash" = $2 WHERE id = $1', [
      userId,
      await hashPassword(password),
    ]);
    await this.expireTokens(manager, userId, 'password-reset');
    await this.tokens.revokeUser(userId, undefined, manager);
    await this.recordAccountChange(manager, 'password.set', userId, actor);
  }

  /**
   * An account change of `userId` (by `actor`, or the system) as a security event after the commit, and
   * as an `action` entry in the audit history of the user record, in the same transaction.
   * Example: `await accounts.recordAccountChange(manager, 'api-key.created', userId, principal, { keyId })`.
   */
  async recordAccountChange(
    manager: EntityManager,
    event: AccountChangeEvent,
    userId: number,
    actor?: Principal,
    details: SecurityEventFields = {},
    request?: FastifyRequest,
  ): Promise<void> {
    await this.audit.record(manager, {
      principal: actor,
      resource: 'users',
      recordId: userId,
      operation: 'action',
      actionName: event,
    });
    this.events.recordAfterCommit(
      manager,
      event,
      { userId, actorId: actor?.userId ?? null, ...details },
      request,
    );
  }

  /**
   * Mails a reset token when an active account has this address; does nothing otherwise. Returns before
   * either happens, so the response cannot tell.
   */
  forgotPassword(email: string): void {
    const address = normalizeEmail(email);
    this.afterResponse(async () => {
      const [user] = await this.dataSource.query<{ id: number }[]>(
        'SELECT id FROM "user" WHERE email = $1 AND "isActive"',
        [address],
      );
      if (!user) {
        return;
      }
      const token = await this.issue(user.id, 'password-reset');
      await this.mail.queue({
        to: address,
        template: 'auth.password-reset',
        data: { token, endpoint: `${this.config.publicUrl}/api/auth/password/reset` },
      });
    });
  }

  /**
   * Spends a reset token and sets the new password. Every session of the user ends and other reset tokens
   * stop working; the address counts as verified, since the token arrived there.
   */
  async resetPassword(token: string, password: string): Promise<void> {
    const passwordHash = await hashPassword(password);
    const email = await this.dataSource.transaction(async (manager) => {
      const userId = await this.spend(manager, token, 'password-reset');
      const [user] = await manager.query<{ email: string }[]>(
        `WITH changed AS (
           UPDATE "user" SET "passwordHash" = $2, "emailVerified" = true WHERE id = $1 RETURNING email)
         SELECT email FROM changed`,
        [userId, passwordHash],
      );
      await this.expireTokens(manager, userId, 'password-reset');
      await this.tokens.revokeUser(userId, undefined, manager);
      await this.recordAccountChange(manager, 'password.reset', userId);
      return user.email;
    });
    this.afterResponse(() => this.sendPasswordChanged(email));
  }

  /**
   * Mails the user that their two-factor authentication changed (ASVS V2.5.5), after the response, like the
   * password-change mail. Example: `accounts.notifyTwoFactorChanged(principal.email, 'enabled')`.
   */
  notifyTwoFactorChanged(email: string, change: TwoFactorChange): void {
    this.afterResponse(async () => {
      await this.mail.queue({
        to: email,
        template: 'auth.2fa-changed',
        data: {
          change,
          forgotEndpoint: `${this.config.publicUrl}/api/auth/password/forgot`,
          sessionsEndpoint: `${this.config.publicUrl}/api/auth/sessions`,
        },
      });
    });
  }

  /**
   * Mails the old address that the account's email changed (ASVS V2.2.3), in `manager`'s transaction: sent
   * only if the change commits. Example: `await accounts.notifyEmailChanged(previous, next, manager)`.
   */
  async notifyEmailChanged(oldEmail: string, newEmail: string, manager: EntityManager): Promise<void> {
    await this.mail.queue(
      {
        to: oldEmail,
        template: 'auth.email-changed',
        data: { newEmail, forgotEndpoint: `${this.config.publicUrl}/api/auth/password/forgot` },
      },
      manager,
    );
  }

  /** Resolves when the mail of earlier requests has been queued (or failed to be). For tests and shutdown. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.allSettled([...this.pending]);
    }
  }

  /** Lets queued mail finish before the database and the mail transport close. */
  onModuleDestroy(): Promise<void> {
    return this.settled();
  }

  /**
   * Runs `work` after the current response is on its way; failures are logged, never surfaced (their
   * timing or status would reveal whether an address has an account). The work only enqueues a `mail.send`
   * job (MailService.queue).
   */
  private afterResponse(work: () => Promise<void>): void {
    const run: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((error: unknown) => this.logger.error(`Account mail failed: ${(error as Error).message}`))
      .finally(() => this.pending.delete(run));
    this.pending.add(run);
  }

  /**
   * A new one-time token for the user (32 random bytes, base64url; only its SHA-256 is stored). Unused
   * tokens of the same purpose are spent in the same statement: only the newest mail's link works.
   */
  private async issue(userId: number, purpose: OneTimePurpose): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.dataSource.query(
      `WITH superseded AS (
         UPDATE one_time_token SET "usedAt" = now() WHERE "userId" = $1 AND purpose = $2 AND "usedAt" IS NULL)
       INSERT INTO one_time_token ("userId", purpose, "tokenHash", "expiresAt")
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
      [userId, purpose, sha256(token), ONE_TIME_TTL_SECONDS[purpose]],
    );
    return token;
  }

  /**
   * Spends a token with one conditional UPDATE: of any number of parallel uses exactly one gets the user
   * id; unknown, used, expired and inactive-user tokens all fail alike.
   */
  private async spend(manager: EntityManager, token: string, purpose: OneTimePurpose): Promise<number> {
    // Through a CTE: pg answers a bare UPDATE … RETURNING with [rows, rowCount], not with the rows.
    const [spent] = await manager.query<{ userId: number }[]>(
      `WITH spent AS (
         UPDATE one_time_token SET "usedAt" = now()
          WHERE "tokenHash" = $1 AND purpose = $2 AND "usedAt" IS NULL AND "expiresAt" > now()
            AND EXISTS (SELECT 1 FROM "user" u WHERE u.id = "userId" AND u."isActive")
          RETURNING "userId")
       SELECT "userId" FROM spent`,
      [sha256(token), purpose],
    );
    if (!spent) {
      throw validationProblem([{ pointer: '/token', code: 'invalid', message: INVALID_TOKEN }]);
    }
    return spent.userId;
  }

  private async expireTokens(manager: EntityManager, userId: number, purpose: OneTimePurpose): Promise<void> {
    await manager.query(
      'UPDATE one_time_token SET "usedAt" = now() WHERE "userId" = $1 AND purpose = $2 AND "usedAt" IS NULL',
      [userId, purpose],
    );
  }

  private async sendVerification(userId: number, email: string): Promise<void> {
    const token = await this.issue(userId, 'email-verify');
    // The token goes in the fragment, which browsers never send: no GET request line (and so no access
    // log, proxy or Referer) ever carries it. The page posts it to the JSON endpoint.
    await this.mail.queue({
      to: email,
      template: 'auth.verify-email',
      data: {
        link: `${this.config.publicUrl}${VERIFY_EMAIL_PAGE}#token=${token}`,
        token,
        endpoint: `${this.config.publicUrl}/api/auth/email/verify`,
      },
    });
  }

  private async sendAlreadyRegistered(email: string): Promise<void> {
    const [user] = await this.dataSource.query<{ id: number }[]>(
      'SELECT id FROM "user" WHERE email = $1 AND "isActive"',
      [email],
    );
    if (!user) {
      return;
    }
    await this.mail.queue({
      to: email,
      template: 'auth.already-registered',
      data: { forgotEndpoint: `${this.config.publicUrl}/api/auth/password/forgot` },
    });
  }

  private async sendPasswordChanged(email: string): Promise<void> {
    await this.mail.queue({
      to: email,
      template: 'auth.password-changed',
      data: { forgotEndpoint: `${this.config.publicUrl}/api/auth/password/forgot` },
    });
  }
}
