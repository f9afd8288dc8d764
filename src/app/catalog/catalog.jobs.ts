import { Injectable } from '@nestjs/common';
import { IsInt, IsPositive } from 'class-validator';
import { DataSource } from 'typeorm';
import { html, htmlDocument, Job, JobContext, MailService, RenderedMail } from 'nestor';

/** An order that takes a product's stock from this or more to below it alerts the staff. */
export const LOW_STOCK_THRESHOLD = 5;

export class ProductIdPayload {
  @IsInt()
  @IsPositive()
  productId!: number;
}

/** The staff's low-stock alert; the product name is escaped in the HTML. */
export function lowStockMail(product: {
  id: number;
  name: string;
  sku: string;
  stock: number;
}): RenderedMail {
  const subject = `Low stock: ${product.sku}`;
  const line = `${product.name} (${product.sku}, product ${product.id}) is down to ${product.stock} in stock.`;
  return {
    subject,
    text: `${line}\nThe alert threshold is ${LOW_STOCK_THRESHOLD}.`,
    html: htmlDocument(
      subject,
      html`<p>${line}</p>
        <p>The alert threshold is ${LOW_STOCK_THRESHOLD}.</p>`,
    ),
  };
}

/** The catalogue's jobs. */
@Injectable()
export class CatalogJobs {
  constructor(
    private readonly dataSource: DataSource,
    private readonly mail: MailService,
  ) {}

  /** Mails every active staff member (and superuser) about a product low on stock, once per job. */
  @Job('catalog.low-stock-alert', { payload: ProductIdPayload, attempts: 5, backoff: 2000 })
  async lowStockAlert({ productId }: ProductIdPayload, context: JobContext): Promise<void> {
    const [product] = await this.dataSource.query<{ id: number; name: string; sku: string; stock: number }[]>(
      'SELECT id, name, sku, stock FROM product WHERE id = $1',
      [productId],
    );
    if (!product) {
      return;
    }
    const staff = await this.dataSource.query<{ email: string }[]>(
      'SELECT email FROM "user" WHERE "isActive" AND ("isStaff" OR "isSuperuser") ORDER BY id',
    );
    const message = lowStockMail(product);
    await context.once(`catalog.low-stock-alert:${context.jobId}`, async (manager) => {
      for (const { email } of staff) {
        await this.mail.queue({ to: email, ...message }, manager);
      }
    });
  }
}
