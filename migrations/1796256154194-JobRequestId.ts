import { MigrationInterface, QueryRunner } from 'typeorm';

export class JobRequestId1796256154194 implements MigrationInterface {
  name = 'JobRequestId1796256154194';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job_outbox" ADD "requestId" character varying(128)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job_outbox" DROP COLUMN "requestId"`);
  }
}
