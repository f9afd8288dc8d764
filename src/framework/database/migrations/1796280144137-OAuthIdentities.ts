import { MigrationInterface, QueryRunner } from 'typeorm';

export class OAuthIdentities1796280144137 implements MigrationInterface {
  name = 'OAuthIdentities1796280144137';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "oauth_flow" ("idHash" character varying(64) NOT NULL, "provider" character varying(40) NOT NULL, "mode" character varying(10) NOT NULL, "state" character varying(64) NOT NULL, "nonce" character varying(64), "codeVerifier" character varying(128) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_34a66307702c24eb6fbd29d5686" PRIMARY KEY ("idHash"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "user_identity" ("userId" integer NOT NULL, "id" SERIAL NOT NULL, "provider" character varying(40) NOT NULL, "subject" character varying(255) NOT NULL, "email" character varying(254), "linkedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_user_identity_provider_subject" UNIQUE ("provider", "subject"), CONSTRAINT "PK_87b5856b206b5b77e6e2fa29508" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_6d46a525c55104a04b24cb6639" ON "user_identity"  ("userId") `);
    await queryRunner.query(
      `ALTER TABLE "user_identity" ADD CONSTRAINT "FK_6d46a525c55104a04b24cb66391" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "user_identity" DROP CONSTRAINT "FK_6d46a525c55104a04b24cb66391"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_6d46a525c55104a04b24cb6639"`);
    await queryRunner.query(`DROP TABLE "user_identity"`);
    await queryRunner.query(`DROP TABLE "oauth_flow"`);
  }
}
