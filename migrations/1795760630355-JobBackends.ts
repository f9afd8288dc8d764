import { MigrationInterface, QueryRunner } from 'typeorm';

export class JobBackends1795760630355 implements MigrationInterface {
  name = 'JobBackends1795760630355';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "job_schedule" ("name" character varying(200) NOT NULL, "cron" character varying(200) NOT NULL, "nextRunAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_113f8856a1bd336b4fb092335f4" PRIMARY KEY ("name"))`,
    );
    await queryRunner.query(`ALTER TABLE "job_outbox" ADD "failedAt" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "job_outbox" ADD "dedupeKey" character varying(300)`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_job_outbox_dedupe" ON "job_outbox"  ("dedupeKey") WHERE "finishedAt" IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."UQ_job_outbox_dedupe"`);
    await queryRunner.query(`ALTER TABLE "job_outbox" DROP COLUMN "dedupeKey"`);
    await queryRunner.query(`ALTER TABLE "job_outbox" DROP COLUMN "failedAt"`);
    await queryRunner.query(`DROP TABLE "job_schedule"`);
  }
}
