import { MigrationInterface, QueryRunner } from 'typeorm';

export class JobEffectJobIdIndex1796290000000 implements MigrationInterface {
  name = 'JobEffectJobIdIndex1796290000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "IDX_job_effect_jobId" ON "job_effect" ("jobId") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_job_effect_jobId"`);
  }
}
