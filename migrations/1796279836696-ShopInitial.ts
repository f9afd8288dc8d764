import { MigrationInterface, QueryRunner } from 'typeorm';

export class ShopInitial1796279836696 implements MigrationInterface {
  name = 'ShopInitial1796279836696';

  /**
   * The shop's tables as Nestor 0.1's migrations built them, beside the framework's (squashed, as in Django).
   * A database that applied all of these is recorded as having this one, without running it.
   */
  replaces = [
    'InitialCatalog1795739610182',
    'CatalogAndOrders1795741041251',
    'AuthAndOrderOwner1795750970732',
    'DailySalesReport1795754727596',
  ];

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "category" ("id" SERIAL NOT NULL, "name" character varying(120) NOT NULL, "slug" character varying(120) NOT NULL, "description" text, "parentId" integer, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_23c05c292c439d77b0de816b500" UNIQUE ("name"), CONSTRAINT "UQ_cb73208f151aa71cdd78f662d70" UNIQUE ("slug"), CONSTRAINT "PK_9c4e4a89e3674fc9f382d733f03" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "tag" ("id" SERIAL NOT NULL, "name" character varying(60) NOT NULL, CONSTRAINT "UQ_6a9775008add570dc3e5a0bab7b" UNIQUE ("name"), CONSTRAINT "PK_8e4052373c579afc1471f526760" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE TYPE "public"."product_status" AS ENUM('draft', 'active', 'archived')`);
    await queryRunner.query(
      `CREATE TABLE "product" ("id" SERIAL NOT NULL, "name" character varying(200) NOT NULL, "sku" character varying(64) NOT NULL, "description" text, "price" numeric(10,2) NOT NULL, "stock" integer NOT NULL DEFAULT '0', "status" "public"."product_status" NOT NULL DEFAULT 'draft', "categoryId" integer NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "version" integer NOT NULL, "deletedAt" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_34f6ca1cd897cc926bdcca1ca39" UNIQUE ("sku"), CONSTRAINT "CHK_product_stock_not_negative" CHECK ("stock" >= 0), CONSTRAINT "CHK_product_price_not_negative" CHECK ("price" >= 0), CONSTRAINT "PK_bebc9158e480b949565b4dc7a82" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_b3234b06e4d16f52b384dfa4dd" ON "product"  ("price") `);
    await queryRunner.query(`CREATE INDEX "IDX_ff0c0301a95e517153df97f681" ON "product"  ("categoryId") `);
    await queryRunner.query(`CREATE INDEX "IDX_6b71c587b0fd3855fa23b759ca" ON "product"  ("createdAt") `);
    await queryRunner.query(
      `CREATE TYPE "public"."order_status" AS ENUM('pending', 'paid', 'shipped', 'cancelled')`,
    );
    await queryRunner.query(
      `CREATE TABLE "order" ("id" SERIAL NOT NULL, "status" "public"."order_status" NOT NULL DEFAULT 'pending', "total" numeric(12,2) NOT NULL DEFAULT '0', "customerId" integer, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1031171c13130102495201e3e20" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_124456e637cca7a415897dce65" ON "order"  ("customerId") `);
    await queryRunner.query(
      `CREATE TABLE "order_item" ("id" SERIAL NOT NULL, "orderId" integer NOT NULL, "productId" integer NOT NULL, "quantity" integer NOT NULL, "unitPrice" numeric(10,2) NOT NULL, CONSTRAINT "CHK_order_item_quantity_positive" CHECK ("quantity" >= 1), CONSTRAINT "PK_d01158fe15b1ead5c26fd7f4e90" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_646bf9ece6f45dbe41c203e06e" ON "order_item"  ("orderId") `);
    await queryRunner.query(`CREATE INDEX "IDX_904370c093ceea4369659a3c81" ON "order_item"  ("productId") `);
    await queryRunner.query(
      `CREATE TABLE "daily_sales_report" ("id" SERIAL NOT NULL, "date" date NOT NULL, "ordersCount" integer NOT NULL, "revenue" numeric(14,2) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_3c2618a4cdbf5d8af86611e42e5" UNIQUE ("date"), CONSTRAINT "PK_f992826bb9db34ab4c1fc0ac8ca" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "product_tags" ("productId" integer NOT NULL, "tagId" integer NOT NULL, CONSTRAINT "PK_5211d54db48ab1656d2a475c77b" PRIMARY KEY ("productId", "tagId"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_d11be11255b8eeb5d761023e6b" ON "product_tags"  ("productId") `,
    );
    await queryRunner.query(`CREATE INDEX "IDX_e6f035b2fbd8b506f33b15e59d" ON "product_tags"  ("tagId") `);
    await queryRunner.query(
      `ALTER TABLE "category" ADD CONSTRAINT "FK_d5456fd7e4c4866fec8ada1fa10" FOREIGN KEY ("parentId") REFERENCES "category"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "product" ADD CONSTRAINT "FK_ff0c0301a95e517153df97f6812" FOREIGN KEY ("categoryId") REFERENCES "category"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "order" ADD CONSTRAINT "FK_124456e637cca7a415897dce659" FOREIGN KEY ("customerId") REFERENCES "user"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "order_item" ADD CONSTRAINT "FK_646bf9ece6f45dbe41c203e06e0" FOREIGN KEY ("orderId") REFERENCES "order"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "order_item" ADD CONSTRAINT "FK_904370c093ceea4369659a3c810" FOREIGN KEY ("productId") REFERENCES "product"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "product_tags" ADD CONSTRAINT "FK_d11be11255b8eeb5d761023e6bc" FOREIGN KEY ("productId") REFERENCES "product"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "product_tags" ADD CONSTRAINT "FK_e6f035b2fbd8b506f33b15e59d9" FOREIGN KEY ("tagId") REFERENCES "tag"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "product_tags" DROP CONSTRAINT "FK_e6f035b2fbd8b506f33b15e59d9"`);
    await queryRunner.query(`ALTER TABLE "product_tags" DROP CONSTRAINT "FK_d11be11255b8eeb5d761023e6bc"`);
    await queryRunner.query(`ALTER TABLE "order_item" DROP CONSTRAINT "FK_904370c093ceea4369659a3c810"`);
    await queryRunner.query(`ALTER TABLE "order_item" DROP CONSTRAINT "FK_646bf9ece6f45dbe41c203e06e0"`);
    await queryRunner.query(`ALTER TABLE "order" DROP CONSTRAINT "FK_124456e637cca7a415897dce659"`);
    await queryRunner.query(`ALTER TABLE "product" DROP CONSTRAINT "FK_ff0c0301a95e517153df97f6812"`);
    await queryRunner.query(`ALTER TABLE "category" DROP CONSTRAINT "FK_d5456fd7e4c4866fec8ada1fa10"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_e6f035b2fbd8b506f33b15e59d"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_d11be11255b8eeb5d761023e6b"`);
    await queryRunner.query(`DROP TABLE "product_tags"`);
    await queryRunner.query(`DROP TABLE "daily_sales_report"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_904370c093ceea4369659a3c81"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_646bf9ece6f45dbe41c203e06e"`);
    await queryRunner.query(`DROP TABLE "order_item"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_124456e637cca7a415897dce65"`);
    await queryRunner.query(`DROP TABLE "order"`);
    await queryRunner.query(`DROP TYPE "public"."order_status"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_6b71c587b0fd3855fa23b759ca"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_ff0c0301a95e517153df97f681"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_b3234b06e4d16f52b384dfa4dd"`);
    await queryRunner.query(`DROP TABLE "product"`);
    await queryRunner.query(`DROP TYPE "public"."product_status"`);
    await queryRunner.query(`DROP TABLE "tag"`);
    await queryRunner.query(`DROP TABLE "category"`);
  }
}
