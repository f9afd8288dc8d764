import { Group } from 'src/framework/auth/group.entity';
import { Permission } from 'src/framework/auth/permission.entity';
import { writesPrincipals } from 'src/framework/auth/principal-cache';
import { RefreshToken } from 'src/framework/auth/refresh-token.entity';
import { User } from 'src/framework/auth/user.entity';
import { metadataOnly } from 'test/support/entity-metadata';

describe(writesPrincipals.name, () => {
  const sut = writesPrincipals;

  it.each([
    'UPDATE "user" SET "isActive" = false WHERE id = $1',
    'update "user" set "passwordHash" = $2 where id = $1',
    'DELETE FROM user_permissions WHERE "userId" = $1',
    'INSERT INTO "group_permissions"("groupId", "permissionId") VALUES ($1, $2)',
    'DELETE FROM "public"."user_groups" WHERE "userId" = $1',
    'INSERT INTO "shop"."permission" (codename, name) VALUES ($1, $2)',
    'DELETE FROM "auth_group" WHERE "id" = $1', // the REST and admin delete of a group
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

  it('sees a write to every table and junction a principal is read from, by the names TypeORM gives them', async () => {
    // The list is written out for speed; a renamed entity table (group → auth_group once) must not slip by.
    const dataSource = await metadataOnly([User, Group, Permission, RefreshToken]);
    const tables = [User, Group, Permission].flatMap((entity) => {
      const metadata = dataSource.getMetadata(entity);
      return [
        metadata.tableName,
        ...metadata.manyToManyRelations.map((r) => r.junctionEntityMetadata!.tableName),
      ];
    });
    expect(tables).toEqual(expect.arrayContaining(['user', 'auth_group', 'permission', 'user_groups']));
    for (const table of [...tables, dataSource.getMetadata(RefreshToken).tableName]) {
      expect({ table, seen: sut(`DELETE FROM "${table}" WHERE "id" = $1`) }).toEqual({ table, seen: true });
    }
  });
});
