import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { adminActionsOf } from 'src/framework/resource/admin-action.decorator';
import { ACTION_PERMISSION } from 'src/framework/auth/auth.guard';
import { FRAMEWORK_PERMISSION_NAMES } from 'src/framework/access/principal';
import { isCommonPassword } from 'src/framework/fields/password-policy';
import { hashPassword, needsRehash, verifyPassword } from 'src/framework/auth/passwords';
import { unauthorized } from 'src/framework/access/problems';
import { TokenPair, TokenService } from 'src/framework/auth/token.service';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { ProblemException } from 'src/framework/http/problem';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

export const PASSWORD_BREACHED = 'urn:nestor:problem:password-breached';

/** 403 after a right password that is on the common/breached list: the user must set a new one first. */
function passwordBreached(): ProblemException {
  return new ProblemException({
    type: PASSWORD_BREACHED,
    title: 'Password must be replaced',
    status: 403,
    detail:
      'The password is right, but it is one of the most common (breached) passwords. Set a new one with ' +
      'POST /api/auth/password/forgot and the emailed reset token, then log in with it.',
  });
}

/** Emails compare trimmed and lower-cased; they are stored that way. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

interface UserRow {
  id: number;
  passwordHash: string | null;
  isActive: boolean;
  totpEnabled: boolean;
}

/** Login, and the boot-time chores: resource permissions and the first superuser. */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly dataSource: DataSource,
    private readonly tokens: TokenService,
    private readonly config: NestorConfig,
    private readonly registry: ResourceRegistry,
  ) {}

  /**
   * Checks email and password (the same answer and similar timing for an unknown email, a wrong password
   * or an inactive account), upgrades an outdated hash, records the login and issues tokens.
   * `verifySecondFactor` runs for users with 2FA enabled.
   */
  async login(
    email: string,
    password: string,
    verifySecondFactor?: (userId: number) => Promise<void>,
  ): Promise<TokenPair> {
    return this.tokens.issue(await this.authenticate(email, password, verifySecondFactor));
  }

  /** The password (and second factor) check of `login`, for other kinds of session. Returns the user id. */
  async authenticate(
    email: string,
    password: string,
    verifySecondFactor?: (userId: number) => Promise<void>,
  ): Promise<number> {
    const [user] = await this.dataSource.query<UserRow[]>(
      'SELECT id, "passwordHash", "isActive", "totpEnabled" FROM "user" WHERE email = $1',
      [normalizeEmail(email)],
    );
    const ok = await verifyPassword(user?.passwordHash, password);
    if (!user || !ok || !user.isActive) {
      throw unauthorized('Invalid email or password.');
    }
    if (user.totpEnabled) {
      if (!verifySecondFactor) {
        throw unauthorized('This account needs a one-time code.');
      }
      await verifySecondFactor(user.id);
    }
    if (isCommonPassword(password)) {
      // ASVS V2.1.7: a password set before the list was checked must be replaced before it is used again.
      throw passwordBreached();
    }
    const rehash = needsRehash(user.passwordHash!) ? await hashPassword(password) : null;
    await this.dataSource.query(
      'UPDATE "user" SET "lastLogin" = now(), "passwordHash" = COALESCE($2, "passwordHash") WHERE id = $1',
      [user.id, rehash],
    );
    return user.id;
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.syncPermissions();
      await this.createFirstSuperuser();
    } catch (error) {
      // Production boots before `nestor migrate`: the tables may not exist yet; readiness reports that.
      this.logger.warn(`Skipped permission sync / first superuser: ${(error as Error).message}`);
    }
  }

  /**
   * Every resource gets `<path>.view|add|change|delete`, plus the custom permissions its admin actions name
   * and the framework's own (FRAMEWORK_PERMISSIONS) (idempotent; safe with several processes).
   */
  async syncPermissions(): Promise<void> {
    const codenames: string[] = [];
    const names: string[] = [];
    for (const definition of this.registry.all()) {
      for (const permission of new Set(Object.values(ACTION_PERMISSION))) {
        codenames.push(`${definition.path}.${permission}`);
        names.push(`Can ${permission} ${definition.name}`);
      }
      // An admin action may name a permission of its own (`orders.ship`): it must exist to be granted.
      for (const action of adminActionsOf((definition.hooks as object).constructor)) {
        const permission = action.options.permission;
        if (permission?.includes('.') && !codenames.includes(permission)) {
          codenames.push(permission);
          names.push(`Can run "${action.name}" on ${definition.name}`);
        }
      }
    }
    codenames.push(...Object.keys(FRAMEWORK_PERMISSION_NAMES));
    names.push(...Object.values(FRAMEWORK_PERMISSION_NAMES));
    await this.dataSource.query(
      'INSERT INTO permission (codename, name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (codename) DO NOTHING',
      [codenames, names],
    );
  }

  /** ADMIN_EMAIL + ADMIN_PASSWORD: an active, verified superuser, created once if no user has that email. */
  async createFirstSuperuser(): Promise<void> {
    const admin = this.config.admin;
    if (admin && (await this.createSuperuser(admin.email, admin.password)) !== undefined) {
      this.logger.log(`Created the superuser ${normalizeEmail(admin.email)} (ADMIN_EMAIL)`);
    }
  }

  /**
   * Creates an active, verified superuser; returns its id, or undefined when the email is taken.
   * Example: `await auth.createSuperuser('ada@example.com', 'a long passphrase')` (`nestor createsuperuser`).
   */
  async createSuperuser(email: string, password: string): Promise<number | undefined> {
    const rows = await this.dataSource.query<{ id: number }[]>(
      `INSERT INTO "user" (email, "passwordHash", "isActive", "isStaff", "isSuperuser", "emailVerified")
       VALUES ($1, $2, true, true, true, true) ON CONFLICT (email) DO NOTHING RETURNING id`,
      [normalizeEmail(email), await hashPassword(password)],
    );
    return rows[0]?.id;
  }
}
