import { MigrationInterface, QueryRunner } from 'typeorm';

export class DailySalesReport1795754727596 implements MigrationInterface {
  name = 'DailySalesReport1795754727596';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "daily_sales_report" ("id" SERIAL NOT NULL, "date" date NOT NULL, "ordersCount" integer NOT NULL, "revenue" numeric(14,2) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_3c2618a4cdbf5d8af86611e42e5" UNIQUE ("date"), CONSTRAINT "PK_f992826bb9db34ab4c1fc0ac8ca" PRIMARY KEY ("id"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "daily_sales_report"`);
  }
}
