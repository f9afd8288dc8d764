import { MigrationInterface, QueryRunner } from 'typeorm';

export class JobOutbox1795754138494 implements MigrationInterface {
  name = 'JobOutbox1795754138494';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "job_outbox" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "payload" jsonb NOT NULL, "delay" integer, "priority" integer, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "publishedAt" TIMESTAMP WITH TIME ZONE, "finishedAt" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_c3ba45dab51e3016acef18d0433" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_job_outbox_unpublished" ON "job_outbox"  ("createdAt") WHERE "publishedAt" IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "job_effect" ("key" character varying(300) NOT NULL, "jobId" character varying(100) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_48eccf631474aee73ca0b8fb4d7" PRIMARY KEY ("key"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "job_effect"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_job_outbox_unpublished"`);
    await queryRunner.query(`DROP TABLE "job_outbox"`);
  }
}
