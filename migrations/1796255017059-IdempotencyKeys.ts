import { MigrationInterface, QueryRunner } from 'typeorm';

export class IdempotencyKeys1796255017059 implements MigrationInterface {
  name = 'IdempotencyKeys1796255017059';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "idempotency_key" ("scope" character varying(100) NOT NULL, "key" character varying(255) NOT NULL, "fingerprint" character(64) NOT NULL, "token" uuid NOT NULL, "lockedUntil" TIMESTAMP WITH TIME ZONE NOT NULL, "committedAt" TIMESTAMP WITH TIME ZONE, "status" smallint, "headers" jsonb, "body" bytea, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_2738e797ef2c60d9a902bad976a" PRIMARY KEY ("scope", "key"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_idempotency_key_expires" ON "idempotency_key"  ("expiresAt") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_idempotency_key_expires"`);
    await queryRunner.query(`DROP TABLE "idempotency_key"`);
  }
}
