import { Injectable } from '@nestjs/common';
import { IsInt, IsPositive } from 'class-validator';
import { DataSource } from 'typeorm';
import { orderConfirmationMail } from 'src/app/orders/order.mails';
import { Job, JobContext } from 'src/framework/jobs/job.decorator';
import { MailService } from 'src/framework/mail/mail.service';

export class OrderIdPayload {
  @IsInt()
  @IsPositive()
  orderId!: number;
}

/** The shop's order jobs. */
@Injectable()
export class OrderJobs {
  constructor(
    private readonly dataSource: DataSource,
    private readonly mail: MailService,
  ) {}

  /**
   * Mails the customer their order, once, however often the job is delivered or retried: the `mail.send`
   * job is enqueued in the same transaction that records the effect key, and sends once per job id.
   */
  @Job('orders.send-confirmation', { payload: OrderIdPayload, attempts: 5, backoff: 2000 })
  async sendConfirmation({ orderId }: OrderIdPayload, context: JobContext): Promise<void> {
    const [order] = await this.dataSource.query<{ email: string | null; total: string }[]>(
      'SELECT u.email, o.total FROM "order" o LEFT JOIN "user" u ON u.id = o."customerId" WHERE o.id = $1',
      [orderId],
    );
    const email = order?.email;
    if (!email) {
      return; // deleted order or customer: nothing to confirm
    }
    const items = await this.dataSource.query<{ name: string; quantity: number; unitPrice: string }[]>(
      `SELECT p.name, i.quantity, i."unitPrice" FROM order_item i JOIN product p ON p.id = i."productId"
        WHERE i."orderId" = $1 ORDER BY i.id`,
      [orderId],
    );
    await context.once(`orders.send-confirmation:${orderId}`, async (manager) => {
      await this.mail.queue(
        { to: email, ...orderConfirmationMail({ orderId, total: order.total, items }) },
        manager,
      );
    });
  }
}
