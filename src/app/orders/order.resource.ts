import { OrderItemResource } from 'src/app/orders/order-item.resource';
import { Order, OrderStatus } from 'src/app/orders/order.entity';
import { OrderJobs } from 'src/app/orders/order.jobs';
import { OrderService } from 'src/app/orders/order.service';
import {
  AdminAction,
  AdminActionContext,
  HookContext,
  PROBLEM_TYPES,
  ProblemException,
  Resource,
  ResourceHooks,
  ResourceCache,
  ResourceRow,
} from 'nestor';

/** Statuses an order can no longer leave. */
const FINAL: readonly unknown[] = [OrderStatus.Shipped, OrderStatus.Cancelled];

/**
 * `/api/orders`: read, update status and delete are generated; placing an order is the custom
 * `POST /api/orders` (OrdersController), since it locks and decrements stock.
 */
@Resource(Order, {
  actions: ['list', 'get', 'update', 'delete'],
  readOnly: ['total'],
  owner: 'customer',
  filter: { status: true, total: true, createdAt: true, customerId: true, 'items.productId': ['eq', 'in'] },
  sort: ['createdAt', 'total', 'status'],
  defaultSort: '-createdAt',
  include: ['items', 'items.product'],
  service: OrderService,
  // Cached per customer (orders are owned): one customer's answers never reach another.
  cache: { ttl: 30 },
  admin: {
    icon: 'ShoppingCart',
    listDisplay: ['id', 'customerId', 'status', 'total', 'createdAt'],
    // Read-only: a line records the price and stock taken when the order was placed (POST /api/orders).
    inlines: [{ resource: OrderItemResource, fields: ['productId', 'quantity', 'unitPrice'] }],
  },
})
export class OrderResource implements ResourceHooks {
  constructor(
    private readonly orderJobs: OrderJobs,
    private readonly cache: ResourceCache,
  ) {}
  /** Admin action: ship paid or pending orders; a shipped or cancelled one in the selection refuses the lot. */
  @AdminAction('mark-shipped', {
    label: 'Mark as shipped',
    confirm: 'Mark the selected orders as shipped?',
    permission: 'orders.ship', // a permission of its own, as Django's custom permissions
  })
  async markShipped({ ids, manager }: AdminActionContext): Promise<string> {
    const final = await manager.query<{ id: number; status: string }[]>(
      'SELECT id, status FROM "order" WHERE id = ANY($1) AND status = ANY($2) ORDER BY id',
      [ids, FINAL],
    );
    if (final.length > 0) {
      throw new ProblemException({
        type: PROBLEM_TYPES.conflict,
        title: 'Order is final',
        status: 409,
        detail: `Order ${final.map((o) => `#${o.id} is ${o.status}`).join(', ')}: nothing was shipped.`,
      });
    }
    await manager.query('UPDATE "order" SET status = $2 WHERE id = ANY($1)', [ids, OrderStatus.Shipped]);
    return `${ids.length} order(s) marked as shipped`;
  }

  /** Admin action, as a background job: the confirmation mail again, once per order and run. */
  @AdminAction('resend-confirmation', { label: 'Resend confirmation', job: true })
  async resendConfirmation({ ids, manager }: AdminActionContext): Promise<string> {
    let sent = 0;
    for (const orderId of ids) {
      sent += (await this.orderJobs.resendConfirmation(orderId as number, manager)) ? 1 : 0;
    }
    return `${sent} confirmation(s) queued`;
  }

  /** Shipped and cancelled orders are final; cancelling returns the items to stock in the same transaction. */
  async beforeUpdate({
    manager,
    id,
    input,
    current,
  }: HookContext & { id: unknown; input: ResourceRow; current: ResourceRow }): Promise<void> {
    const next = input.status as OrderStatus | undefined;
    if (next === undefined || next === current.status) {
      return;
    }
    if (FINAL.includes(current.status)) {
      throw new ProblemException({
        type: PROBLEM_TYPES.conflict,
        title: 'Order is final',
        status: 409,
        detail: `A ${String(current.status)} order cannot become ${next}.`,
        errors: [
          { pointer: '/status', code: 'final', message: `the order is already ${String(current.status)}` },
        ],
      });
    }
    if (next === OrderStatus.Cancelled) {
      await manager.query(
        'UPDATE product p SET stock = p.stock + i.quantity FROM order_item i WHERE i."orderId" = $1 AND p.id = i."productId"',
        [id],
      );
      this.cache.touch(manager, 'products'); // cached product answers show the stock: invalidated on COMMIT
    }
  }
}
