import { MigrationInterface, QueryRunner } from 'typeorm';

export class AdminSessionsAndAudit1795762427772 implements MigrationInterface {
  name = 'AdminSessionsAndAudit1795762427772';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "admin_session" ("idHash" character varying(64) NOT NULL, "userId" integer NOT NULL, "csrfToken" character varying(64) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_0b102549d8ce3c898aaa00347cd" PRIMARY KEY ("idHash"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_admin_session_user" ON "admin_session"  ("userId") `);
    await queryRunner.query(
      `CREATE TABLE "audit_entry" ("id" BIGSERIAL NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actorId" integer, "actorEmail" character varying(320), "via" character varying(10) NOT NULL, "resource" character varying(100) NOT NULL, "recordId" character varying(100) NOT NULL, "operation" character varying(10) NOT NULL, "actionName" character varying(100), "changes" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_58a130a4b9da189f46ba2a01801" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_audit_entry_at" ON "audit_entry"  ("at") `);
    await queryRunner.query(
      `CREATE INDEX "IDX_audit_entry_record" ON "audit_entry"  ("resource", "recordId", "at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_audit_entry_record"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_audit_entry_at"`);
    await queryRunner.query(`DROP TABLE "audit_entry"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_admin_session_user"`);
    await queryRunner.query(`DROP TABLE "admin_session"`);
  }
}
