import { IsString } from 'class-validator';
import { AdminAction, AdminActionContext } from 'src/framework/resource/admin-action.decorator';
import { AccountService } from 'src/framework/auth/account.service';
import { normalizeEmail } from 'src/framework/auth/auth.service';
import { NewPassword } from 'src/framework/fields/password-policy';
import { addedIds, checkGrants, recordGrantChanges, refused, unrestricted } from 'src/framework/auth/grants';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { User } from 'src/framework/auth/user.entity';
import type { ProblemFieldError } from 'src/framework/http/problem';
import { HookContext, Resource, ResourceHooks, ResourceRow } from 'src/framework/resource/resource.decorator';

/** The form of the admin's "Set password" action. */
export class SetPasswordInput {
  @IsString()
  @NewPassword()
  password!: string;
}

/** Flags only a superuser may change (on create: set to anything but their default, false). */
const SUPERUSER_FIELDS = ['isStaff', 'isSuperuser'] as const;

/** 403 when a non-superuser changes `isStaff`/`isSuperuser` away from `current` (the defaults on create). */
function checkFlags(context: HookContext, input: ResourceRow, current: ResourceRow): void {
  if (unrestricted(context.principal)) {
    return;
  }
  const errors: ProblemFieldError[] = SUPERUSER_FIELDS.filter(
    (name) => name in input && input[name] !== current[name],
  ).map((name) => ({
    pointer: `/${name}`,
    code: 'forbidden',
    message: `only superusers may change ${name}`,
  }));
  if (errors.length > 0) {
    throw refused('Only superusers may make or unmake staff and superusers.', errors);
  }
}

/** 403 when a non-superuser touches a superuser's account (else: change its email, then reset its password). */
function checkTarget(context: HookContext, current: ResourceRow): void {
  if (current.isSuperuser === true && !unrestricted(context.principal)) {
    throw refused('Only superusers may change or delete a superuser.', []);
  }
}

/**
 * `/api/users`: the accounts, for staff (non-staff callers get 403 even with `users.*` permissions).
 * Staff need `users.view|add|change|delete` as usual; on top of that only superusers may set `isStaff` or
 * `isSuperuser`, change or delete a superuser, or grant (directly or through `groupIds`) a permission
 * they do not hold themselves — refused with a 403 problem, nothing written.
 * Secrets are never exposed (`passwordHash` and the `totp…` secrets and state are hidden); `lastLogin`,
 * `emailVerified` and `totpEnabled` are set by the auth flows only. Emails are stored trimmed and
 * lower-cased, so the unique constraint is case-insensitive (a clash is a 409).
 * A user created here has no password (a null hash: password login is impossible) and an unverified
 * email until they set a password through `POST /api/auth/password/forgot` + `password/reset`.
 */
@Resource(User, {
  path: 'users',
  staffOnly: true,
  hidden: ['passwordHash', 'totpSecret', 'totpRecoveryCodes', 'totpLastStep'],
  readOnly: ['lastLogin', 'emailVerified', 'totpEnabled'],
  search: ['email'],
  sort: ['email', 'isActive', 'isStaff', 'isSuperuser', 'lastLogin', 'createdAt', 'updatedAt'],
  include: ['groups', 'permissions'],
  admin: {
    icon: 'People',
    listDisplay: ['email', 'isActive', 'isStaff', 'isSuperuser', 'lastLogin'],
    labels: { isActive: 'Active', isStaff: 'Staff', isSuperuser: 'Superuser' },
    helpText: {
      isStaff: 'May use the admin panel',
      isSuperuser: 'Has every permission without being granted it',
    },
    titleField: 'email',
  },
})
export class UserResource implements ResourceHooks {
  constructor(
    private readonly accounts: AccountService,
    private readonly events: SecurityEvents,
  ) {}

  /** Admin action: mails each selected active user a password reset link (as `password/forgot` does). */
  @AdminAction('send-password-reset', { label: 'Send password reset', confirm: 'Mail a reset link to each?' })
  async sendPasswordReset({ ids, manager }: AdminActionContext): Promise<string> {
    const users = await manager.query<{ email: string }[]>(
      'SELECT email FROM "user" WHERE id = ANY($1) AND "isActive"',
      [ids],
    );
    users.forEach((user) => this.accounts.forgotPassword(user.email));
    return `${users.length} reset link(s) sent`;
  }

  /** Admin action: sets one user's password and ends their sessions; a superuser's only by a superuser. */
  @AdminAction('set-password', { label: 'Set password', bulk: false, input: SetPasswordInput })
  async setPassword({
    ids,
    input,
    manager,
    principal,
  }: AdminActionContext<SetPasswordInput>): Promise<string> {
    const targets = await manager.query<{ id: number; isSuperuser: boolean }[]>(
      'SELECT id, "isSuperuser" FROM "user" WHERE id = ANY($1)',
      [ids],
    );
    if (targets.some((user) => user.isSuperuser) && !unrestricted(principal)) {
      throw refused('Only superusers may change or delete a superuser.', []);
    }
    for (const { id } of targets) {
      await this.accounts.setPassword(id, input.password, manager, principal);
    }
    return `Password set for ${targets.length} user(s); their sessions ended`;
  }

  beforeCreate(context: HookContext & { input: ResourceRow }): void {
    const { input } = context;
    if (typeof input.email === 'string') {
      input.email = normalizeEmail(input.email);
    }
    checkFlags(context, input, { isStaff: false, isSuperuser: false });
  }

  async afterCreate({ manager, principal, row }: HookContext & { row: ResourceRow }): Promise<void> {
    await checkGrants(manager, principal, {
      permissionIds: addedIds(row.permissionIds, []),
      groupIds: addedIds(row.groupIds, []),
    });
    recordGrantChanges(this.events, { manager, principal }, 'userId', row, {});
  }

  beforeUpdate(context: HookContext & { input: ResourceRow; current: ResourceRow }): void {
    const { input, current } = context;
    checkTarget(context, current);
    if (typeof input.email === 'string') {
      input.email = normalizeEmail(input.email);
    }
    checkFlags(context, input, current);
  }

  /** `<relation>Ids` are written after `beforeUpdate`: the grants are checked on the result, then rolled back. */
  async afterUpdate({
    manager,
    principal,
    row,
    previous,
  }: HookContext & { row: ResourceRow; previous: ResourceRow }): Promise<void> {
    await checkGrants(manager, principal, {
      permissionIds: addedIds(row.permissionIds, previous.permissionIds),
      groupIds: addedIds(row.groupIds, previous.groupIds),
    });
    recordGrantChanges(this.events, { manager, principal }, 'userId', row, previous);
    if (typeof previous.email === 'string' && typeof row.email === 'string' && previous.email !== row.email) {
      await this.accounts.notifyEmailChanged(previous.email, row.email, manager);
    }
  }

  beforeDelete(context: HookContext & { current: ResourceRow }): void {
    checkTarget(context, context.current);
  }
}
