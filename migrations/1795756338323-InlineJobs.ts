import { MigrationInterface, QueryRunner } from 'typeorm';

export class InlineJobs1795756338323 implements MigrationInterface {
  name = 'InlineJobs1795756338323';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job_outbox" ADD "attempts" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "job_outbox" ADD "runAt" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "job_outbox" ADD "lastError" text`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job_outbox" DROP COLUMN "lastError"`);
    await queryRunner.query(`ALTER TABLE "job_outbox" DROP COLUMN "runAt"`);
    await queryRunner.query(`ALTER TABLE "job_outbox" DROP COLUMN "attempts"`);
  }
}
