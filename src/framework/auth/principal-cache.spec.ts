import { writesPrincipals } from 'src/framework/auth/principal-cache';

describe(writesPrincipals.name, () => {
  const sut = writesPrincipals;

  it.each([
    'UPDATE "user" SET "isActive" = false WHERE id = $1',
    'update "user" set "passwordHash" = $2 where id = $1',
    'DELETE FROM user_permissions WHERE "userId" = $1',
    'INSERT INTO "group_permissions"("groupId", "permissionId") VALUES ($1, $2)',
    'DELETE FROM "public"."user_groups" WHERE "userId" = $1',
    'INSERT INTO "shop"."permission" (codename, name) VALUES ($1, $2)',
    'DELETE FROM "group" WHERE id = $1',
    'UPDATE refresh_token SET "revokedAt" = now() WHERE family = $1 AND "revokedAt" IS NULL',
    `WITH live AS (SELECT family FROM refresh_token), r AS (
       UPDATE refresh_token SET "revokedAt" = now() WHERE family IN (SELECT family FROM live) RETURNING 1)
     SELECT count(*) FROM r`,
    'DELETE FROM refresh_token WHERE "expiresAt" < now()',
    'TRUNCATE TABLE "user" CASCADE',
  ])('sees a write that changes principals: %s', (sql) => {
    expect(sut(sql)).toBe(true);
  });

  it.each([
    'SELECT * FROM "user" WHERE id = $1',
    'INSERT INTO product (name) VALUES ($1)',
    'UPDATE "user_identity" SET subject = $1',
    'INSERT INTO refresh_token ("userId", family, "tokenHash") VALUES ($1, $2, $3)',
    'UPDATE refresh_token SET "usedAt" = now() WHERE id = $1',
    'UPDATE refresh_token SET "usedAt" = now() WHERE "tokenHash" = $1 AND "revokedAt" IS NULL',
    'WITH created AS (INSERT INTO "product" (name) VALUES ($1) RETURNING *) SELECT * FROM created',
    'START TRANSACTION',
    'COMMIT',
  ])('ignores a statement that cannot: %s', (sql) => {
    expect(sut(sql)).toBe(false);
  });
});
