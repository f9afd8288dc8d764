import { Injectable } from '@nestjs/common';
import { IsInt, IsPositive } from 'class-validator';
import { DataSource, EntityManager } from 'typeorm';
import { orderConfirmationMail } from 'src/app/orders/order.mails';
import { Job, JobContext, MailMessage, MailService } from 'nestor';

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
    const message = await this.confirmation(orderId);
    if (message) {
      await context.once(`orders.send-confirmation:${orderId}`, (manager) =>
        this.mail.queue(message, manager).then(() => undefined),
      );
    }
  }

  /** Queues the confirmation again (the admin's "Resend confirmation"); false when there is no one to mail. */
  async resendConfirmation(orderId: number, manager: EntityManager): Promise<boolean> {
    const message = await this.confirmation(orderId);
    if (message) {
      await this.mail.queue(message, manager);
    }
    return message !== undefined;
  }

  /** The confirmation mail of an order, or undefined for a deleted order or customer. */
  private async confirmation(orderId: number): Promise<MailMessage | undefined> {
    const [order] = await this.dataSource.query<{ email: string | null; total: string }[]>(
      'SELECT u.email, o.total FROM "order" o LEFT JOIN "user" u ON u.id = o."customerId" WHERE o.id = $1',
      [orderId],
    );
    const email = order?.email;
    if (!email) {
      return undefined;
    }
    const items = await this.dataSource.query<{ name: string; quantity: number; unitPrice: string }[]>(
      `SELECT p.name, i.quantity, i."unitPrice" FROM order_item i JOIN product p ON p.id = i."productId"
        WHERE i."orderId" = $1 ORDER BY i.id`,
      [orderId],
    );
    return { to: email, ...orderConfirmationMail({ orderId, total: order.total, items }) };
  }
}
