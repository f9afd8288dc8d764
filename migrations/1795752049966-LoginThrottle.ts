import { MigrationInterface, QueryRunner } from 'typeorm';

export class LoginThrottle1795752049966 implements MigrationInterface {
  name = 'LoginThrottle1795752049966';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "login_attempt" ("key" character varying(64) NOT NULL, "scope" character varying(16) NOT NULL, "failures" integer NOT NULL DEFAULT '0', "windowStart" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2b7decd11c28ffdfdde28e05382" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_7850a305e4c4ea53e903cbd24b" ON "login_attempt"  ("windowStart") `,
    );
    await queryRunner.query(`ALTER TABLE "user" ADD "totpLastStep" integer`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "user" DROP COLUMN "totpLastStep"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_7850a305e4c4ea53e903cbd24b"`);
    await queryRunner.query(`DROP TABLE "login_attempt"`);
  }
}
