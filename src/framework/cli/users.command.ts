import { input, password as passwordPrompt } from '@inquirer/prompts';
import { plainToInstance } from 'class-transformer';
import { isEmail, validate } from 'class-validator';
import type { Command } from 'commander';
import { DataSource } from 'typeorm';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { CliError, ui, withAppContext } from 'src/framework/cli/context';
import { AccountService } from 'src/framework/auth/account.service';
import { AuthService, normalizeEmail } from 'src/framework/auth/auth.service';
import { SetPasswordInput } from 'src/framework/auth/user.resource';

/** The password rules of the admin's "Set password" form, so every way in enforces the same ones. */
async function passwordProblem(password: string): Promise<string | undefined> {
  const errors = await validate(plainToInstance(SetPasswordInput, { password }));
  return errors.flatMap((e) => Object.values(e.constraints ?? {}))[0];
}

/** Asks for a new password twice with hidden input, like Django; refuses a weak or mismatched one. */
async function promptPassword(): Promise<string> {
  for (;;) {
    const first = await passwordPrompt({ message: 'Password:', mask: false });
    const second = await passwordPrompt({ message: 'Password (again):', mask: false });
    const problem = first !== second ? 'the passwords do not match' : await passwordProblem(first);
    if (!problem) {
      return first;
    }
    ui.error(`Error: ${problem}.`);
  }
}

function requireTerminal(command: string): void {
  if (!process.stdin.isTTY) {
    throw new CliError(
      `NST-U003 ${command} asks questions, but stdin is not a terminal: use --no-input (see --help).`,
    );
  }
}

async function checkedPassword(password: string): Promise<string> {
  const problem = await passwordProblem(password);
  if (problem) {
    throw new CliError(`NST-U002 The password is refused: ${problem}.`);
  }
  return password;
}

/** `createsuperuser`: prompts (or reads the environment with --no-input), then creates the user. */
async function createSuperuser(
  rootModule: RootModuleFactory,
  options: { email?: string; input: boolean },
): Promise<void> {
  let email = options.email ?? (options.input ? undefined : process.env.NESTOR_SUPERUSER_EMAIL);
  let password: string | undefined;
  if (options.input) {
    requireTerminal('createsuperuser');
    email ??= await input({
      message: 'Email address:',
      validate: (value) => isEmail(value.trim()) || 'Enter a valid email address.',
    });
    password = await promptPassword();
  } else {
    password = process.env.NESTOR_SUPERUSER_PASSWORD;
    if (!email || !password) {
      throw new CliError(
        'NST-U001 --no-input needs NESTOR_SUPERUSER_EMAIL and NESTOR_SUPERUSER_PASSWORD in the environment.',
      );
    }
    await checkedPassword(password);
  }
  if (!isEmail(email.trim())) {
    throw new CliError(`NST-U001 "${email}" is not a valid email address.`);
  }
  const address = normalizeEmail(email);
  const id = await withAppContext(rootModule, (app) =>
    app.get(AuthService).createSuperuser(address, password),
  );
  if (id === undefined) {
    throw new CliError(`NST-U004 A user with the email ${address} already exists.`);
  }
  ui.ok(`Superuser ${address} created (id ${id}).`);
}

/** `changepassword <email>`: a prompted (or NESTOR_PASSWORD) password, set and every session ended. */
async function changePassword(
  rootModule: RootModuleFactory,
  email: string,
  options: { input: boolean },
): Promise<void> {
  const address = normalizeEmail(email);
  await withAppContext(rootModule, async (app) => {
    const [user] = await app
      .get(DataSource)
      .query<{ id: number }[]>('SELECT id FROM "user" WHERE email = $1', [address]);
    if (!user) {
      throw new CliError(`NST-U005 No user has the email ${address}.`);
    }
    let password: string;
    if (options.input) {
      requireTerminal('changepassword');
      ui.out(`Changing password for user ${address}`);
      password = await promptPassword();
    } else {
      const given = process.env.NESTOR_PASSWORD;
      if (!given) {
        throw new CliError('NST-U001 --no-input needs NESTOR_PASSWORD in the environment.');
      }
      password = await checkedPassword(given);
    }
    await app
      .get(DataSource)
      .transaction((manager) => app.get(AccountService).setPassword(user.id, password, manager));
  });
  ui.ok(`Password changed for ${address}; their sessions have ended.`);
}

/** `createsuperuser` and `changepassword`, as in Django. */
export function registerUserCommands(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('createsuperuser')
    .description(
      'Create an active, verified superuser. Prompts for email and password (hidden), or with --no-input ' +
        'reads NESTOR_SUPERUSER_EMAIL and NESTOR_SUPERUSER_PASSWORD',
    )
    .option('--email <email>', 'the email address (skips that prompt)')
    .option('--no-input', 'never prompt: read the environment variables instead')
    .action((options: { email?: string; input: boolean }) => createSuperuser(rootModule, options));

  program
    .command('changepassword')
    .description("Set a user's password (prompted twice, hidden) and end all of their sessions")
    .argument('<email>', 'the user whose password changes')
    .option('--no-input', 'never prompt: read NESTOR_PASSWORD from the environment')
    .action((email: string, options: { input: boolean }) => changePassword(rootModule, email, options));
}
