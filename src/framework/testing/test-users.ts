import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { normalizeEmail } from 'src/framework/auth/auth.service';
import { hashPassword } from 'src/framework/auth/passwords';
import { TokenService } from 'src/framework/auth/token.service';

export interface TestUserOptions {
  email?: string;
  password?: string;
  isStaff?: boolean;
  isSuperuser?: boolean;
  isActive?: boolean;
  /** Permission codenames granted directly, e.g. `['orders.view']`. */
  permissions?: string[];
}

/** A user made for a test, with a fresh access token. */
export interface TestUser {
  id: number;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** `{ authorization: 'Bearer …' }` for `inject({ headers })`. */
  headers: { authorization: string };
}

let counter = 0;

/**
 * Creates a verified user directly in the database and logs them in.
 * Example: `const staff = await createTestUser(t.app, { permissions: ['orders.view'] })`.
 */
export async function createTestUser(
  app: INestApplication,
  options: TestUserOptions = {},
): Promise<TestUser> {
  const dataSource = app.get(DataSource);
  const email = normalizeEmail(options.email ?? `user${++counter}-${process.pid}@test.nestor`);
  const password = options.password ?? 'test password 123';
  const [{ id }] = await dataSource.query<{ id: number }[]>(
    `INSERT INTO "user" (email, "passwordHash", "isActive", "isStaff", "isSuperuser", "emailVerified")
     VALUES ($1, $2, $3, $4, $5, true) RETURNING id`,
    [
      email,
      await hashPassword(password),
      options.isActive ?? true,
      options.isStaff ?? false,
      options.isSuperuser ?? false,
    ],
  );
  if (options.permissions?.length) {
    await dataSource.query(
      `INSERT INTO user_permissions ("userId", "permissionId")
       SELECT $1, id FROM permission WHERE codename = ANY($2)`,
      [id, options.permissions],
    );
  }
  const { accessToken, refreshToken } = await app.get(TokenService).issue(id);
  return {
    id,
    email,
    password,
    accessToken,
    refreshToken,
    headers: { authorization: `Bearer ${accessToken}` },
  };
}
