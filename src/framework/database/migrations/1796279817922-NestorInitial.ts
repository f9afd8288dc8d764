import { MigrationInterface, QueryRunner } from 'typeorm';

export class NestorInitial1796279817922 implements MigrationInterface {
  name = 'NestorInitial1796279817922';

  /**
   * The framework's tables as Nestor 0.1 built them inside the app's migrations (squashed, as in Django).
   * A database that applied all of these is recorded as having this one, without running it.
   */
  replaces = [
    'AuthAndOrderOwner1795750970732',
    'LoginThrottle1795752049966',
    'JobOutbox1795754138494',
    'InlineJobs1795756338323',
    'JobBackends1795760630355',
    'AdminSessionsAndAudit1795762427772',
    'IdempotencyKeys1796255017059',
    'JobRequestId1796256154194',
  ];

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_entry" ("id" BIGSERIAL NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actorId" integer, "actorEmail" character varying(320), "via" character varying(10) NOT NULL, "resource" character varying(100) NOT NULL, "recordId" character varying(100) NOT NULL, "operation" character varying(10) NOT NULL, "actionName" character varying(100), "changes" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_58a130a4b9da189f46ba2a01801" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_audit_entry_at" ON "audit_entry"  ("at") `);
    await queryRunner.query(
      `CREATE INDEX "IDX_audit_entry_record" ON "audit_entry"  ("resource", "recordId", "at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "permission" ("id" SERIAL NOT NULL, "codename" character varying(150) NOT NULL, "name" character varying(255) NOT NULL DEFAULT '', CONSTRAINT "UQ_71e7b1c3db2e49a5b74ebea8ded" UNIQUE ("codename"), CONSTRAINT "PK_3b8b97af9d9d8807e41e6f48362" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "auth_group" ("id" SERIAL NOT NULL, "name" character varying(150) NOT NULL, CONSTRAINT "UQ_b0ea09a5b50594e832191a9b184" UNIQUE ("name"), CONSTRAINT "PK_1ac7a99886a62706d0d5af92b92" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "user" ("id" SERIAL NOT NULL, "email" character varying(254) NOT NULL, "passwordHash" character varying(255), "isActive" boolean NOT NULL DEFAULT true, "isStaff" boolean NOT NULL DEFAULT false, "isSuperuser" boolean NOT NULL DEFAULT false, "emailVerified" boolean NOT NULL DEFAULT false, "lastLogin" TIMESTAMP WITH TIME ZONE, "totpSecret" text, "totpEnabled" boolean NOT NULL DEFAULT false, "totpRecoveryCodes" jsonb NOT NULL DEFAULT '[]', "totpLastStep" integer, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_e12875dfb3b1d92d7d7c5377e22" UNIQUE ("email"), CONSTRAINT "PK_cace4a159ff9f2512dd42373760" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "admin_session" ("idHash" character varying(64) NOT NULL, "userId" integer NOT NULL, "csrfToken" character varying(64) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_0b102549d8ce3c898aaa00347cd" PRIMARY KEY ("idHash"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_admin_session_user" ON "admin_session"  ("userId") `);
    await queryRunner.query(
      `CREATE TABLE "api_key" ("userId" integer NOT NULL, "id" SERIAL NOT NULL, "name" character varying(100) NOT NULL, "prefix" character varying(16) NOT NULL, "secretHash" character varying(64) NOT NULL, "permissions" jsonb NOT NULL DEFAULT '[]', "lastUsedAt" TIMESTAMP WITH TIME ZONE, "revokedAt" TIMESTAMP WITH TIME ZONE, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_c4f6ccad30c0862eb54af9fb0ac" UNIQUE ("prefix"), CONSTRAINT "PK_b1bd840641b8acbaad89c3d8d11" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_277972f4944205eb29127f9bb6" ON "api_key"  ("userId") `);
    await queryRunner.query(
      `CREATE TABLE "login_attempt" ("key" character varying(64) NOT NULL, "scope" character varying(16) NOT NULL, "failures" integer NOT NULL DEFAULT '0', "windowStart" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2b7decd11c28ffdfdde28e05382" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_7850a305e4c4ea53e903cbd24b" ON "login_attempt"  ("windowStart") `,
    );
    await queryRunner.query(
      `CREATE TABLE "one_time_token" ("userId" integer NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "purpose" character varying(32) NOT NULL, "tokenHash" character varying(64) NOT NULL, "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, "usedAt" TIMESTAMP WITH TIME ZONE, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_ce784511f648d2975abe8828a71" UNIQUE ("tokenHash"), CONSTRAINT "PK_956e3dd6580e4829e05ab460808" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_34221de4066f35eb977031a5e8" ON "one_time_token"  ("userId") `);
    await queryRunner.query(
      `CREATE TABLE "refresh_token" ("userId" integer NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "family" uuid NOT NULL, "tokenHash" character varying(64) NOT NULL, "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, "usedAt" TIMESTAMP WITH TIME ZONE, "revokedAt" TIMESTAMP WITH TIME ZONE, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_204f27bcee2b705b8230beaf414" UNIQUE ("tokenHash"), CONSTRAINT "PK_b575dd3c21fb0831013c909e7fe" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_8e913e288156c133999341156a" ON "refresh_token"  ("userId") `);
    await queryRunner.query(`CREATE INDEX "IDX_407cbf7a33b94af93195029996" ON "refresh_token"  ("family") `);
    await queryRunner.query(
      `CREATE TABLE "job_outbox" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "payload" jsonb NOT NULL, "delay" integer, "priority" integer, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "publishedAt" TIMESTAMP WITH TIME ZONE, "attempts" integer NOT NULL DEFAULT '0', "runAt" TIMESTAMP WITH TIME ZONE, "lastError" text, "finishedAt" TIMESTAMP WITH TIME ZONE, "failedAt" TIMESTAMP WITH TIME ZONE, "dedupeKey" character varying(300), "requestId" character varying(128), CONSTRAINT "PK_c3ba45dab51e3016acef18d0433" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_job_outbox_dedupe" ON "job_outbox"  ("dedupeKey") WHERE "finishedAt" IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_job_outbox_unpublished" ON "job_outbox"  ("createdAt") WHERE "publishedAt" IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "job_schedule" ("name" character varying(200) NOT NULL, "cron" character varying(200) NOT NULL, "nextRunAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_113f8856a1bd336b4fb092335f4" PRIMARY KEY ("name"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "job_effect" ("key" character varying(300) NOT NULL, "jobId" character varying(100) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_48eccf631474aee73ca0b8fb4d7" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "idempotency_key" ("scope" character varying(100) NOT NULL, "key" character varying(255) NOT NULL, "fingerprint" character(64) NOT NULL, "token" uuid NOT NULL, "lockedUntil" TIMESTAMP WITH TIME ZONE NOT NULL, "committedAt" TIMESTAMP WITH TIME ZONE, "status" smallint, "headers" jsonb, "body" bytea, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_2738e797ef2c60d9a902bad976a" PRIMARY KEY ("scope", "key"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_idempotency_key_expires" ON "idempotency_key"  ("expiresAt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "group_permissions" ("groupId" integer NOT NULL, "permissionId" integer NOT NULL, CONSTRAINT "PK_1cceec313133610e2bf552ecb7c" PRIMARY KEY ("groupId", "permissionId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_89dc8a8aee6e9117c9347660d8" ON "group_permissions"  ("groupId") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_df56820a94d9130ac2ec2b3dd2" ON "group_permissions"  ("permissionId") `,
    );
    await queryRunner.query(
      `CREATE TABLE "user_groups" ("userId" integer NOT NULL, "groupId" integer NOT NULL, CONSTRAINT "PK_dc24675c437bf3c70d3d0dff67f" PRIMARY KEY ("userId", "groupId"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_99d01ff7f143377c044f3d6c95" ON "user_groups"  ("userId") `);
    await queryRunner.query(`CREATE INDEX "IDX_4dcea3f5c6f04650517d9dc475" ON "user_groups"  ("groupId") `);
    await queryRunner.query(
      `CREATE TABLE "user_permissions" ("userId" integer NOT NULL, "permissionId" integer NOT NULL, CONSTRAINT "PK_4d0e283b03781d1796e62dc6195" PRIMARY KEY ("userId", "permissionId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_f05ccc7935f14874d7f89ba030" ON "user_permissions"  ("userId") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_cf38f85e52ee274ba9a01901ed" ON "user_permissions"  ("permissionId") `,
    );
    await queryRunner.query(
      `ALTER TABLE "api_key" ADD CONSTRAINT "FK_277972f4944205eb29127f9bb6c" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "one_time_token" ADD CONSTRAINT "FK_34221de4066f35eb977031a5e8c" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "refresh_token" ADD CONSTRAINT "FK_8e913e288156c133999341156ad" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "group_permissions" ADD CONSTRAINT "FK_89dc8a8aee6e9117c9347660d80" FOREIGN KEY ("groupId") REFERENCES "auth_group"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "group_permissions" ADD CONSTRAINT "FK_df56820a94d9130ac2ec2b3dd2e" FOREIGN KEY ("permissionId") REFERENCES "permission"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_groups" ADD CONSTRAINT "FK_99d01ff7f143377c044f3d6c955" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_groups" ADD CONSTRAINT "FK_4dcea3f5c6f04650517d9dc4750" FOREIGN KEY ("groupId") REFERENCES "auth_group"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_permissions" ADD CONSTRAINT "FK_f05ccc7935f14874d7f89ba030f" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_permissions" ADD CONSTRAINT "FK_cf38f85e52ee274ba9a01901ed2" FOREIGN KEY ("permissionId") REFERENCES "permission"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "user_permissions" DROP CONSTRAINT "FK_cf38f85e52ee274ba9a01901ed2"`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_permissions" DROP CONSTRAINT "FK_f05ccc7935f14874d7f89ba030f"`,
    );
    await queryRunner.query(`ALTER TABLE "user_groups" DROP CONSTRAINT "FK_4dcea3f5c6f04650517d9dc4750"`);
    await queryRunner.query(`ALTER TABLE "user_groups" DROP CONSTRAINT "FK_99d01ff7f143377c044f3d6c955"`);
    await queryRunner.query(
      `ALTER TABLE "group_permissions" DROP CONSTRAINT "FK_df56820a94d9130ac2ec2b3dd2e"`,
    );
    await queryRunner.query(
      `ALTER TABLE "group_permissions" DROP CONSTRAINT "FK_89dc8a8aee6e9117c9347660d80"`,
    );
    await queryRunner.query(`ALTER TABLE "refresh_token" DROP CONSTRAINT "FK_8e913e288156c133999341156ad"`);
    await queryRunner.query(`ALTER TABLE "one_time_token" DROP CONSTRAINT "FK_34221de4066f35eb977031a5e8c"`);
    await queryRunner.query(`ALTER TABLE "api_key" DROP CONSTRAINT "FK_277972f4944205eb29127f9bb6c"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_cf38f85e52ee274ba9a01901ed"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_f05ccc7935f14874d7f89ba030"`);
    await queryRunner.query(`DROP TABLE "user_permissions"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_4dcea3f5c6f04650517d9dc475"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_99d01ff7f143377c044f3d6c95"`);
    await queryRunner.query(`DROP TABLE "user_groups"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_df56820a94d9130ac2ec2b3dd2"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_89dc8a8aee6e9117c9347660d8"`);
    await queryRunner.query(`DROP TABLE "group_permissions"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_idempotency_key_expires"`);
    await queryRunner.query(`DROP TABLE "idempotency_key"`);
    await queryRunner.query(`DROP TABLE "job_effect"`);
    await queryRunner.query(`DROP TABLE "job_schedule"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_job_outbox_unpublished"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_job_outbox_dedupe"`);
    await queryRunner.query(`DROP TABLE "job_outbox"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_407cbf7a33b94af93195029996"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_8e913e288156c133999341156a"`);
    await queryRunner.query(`DROP TABLE "refresh_token"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_34221de4066f35eb977031a5e8"`);
    await queryRunner.query(`DROP TABLE "one_time_token"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_7850a305e4c4ea53e903cbd24b"`);
    await queryRunner.query(`DROP TABLE "login_attempt"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_277972f4944205eb29127f9bb6"`);
    await queryRunner.query(`DROP TABLE "api_key"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_admin_session_user"`);
    await queryRunner.query(`DROP TABLE "admin_session"`);
    await queryRunner.query(`DROP TABLE "user"`);
    await queryRunner.query(`DROP TABLE "auth_group"`);
    await queryRunner.query(`DROP TABLE "permission"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_audit_entry_record"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_audit_entry_at"`);
    await queryRunner.query(`DROP TABLE "audit_entry"`);
  }
}
