import { Inject, Injectable } from '@nestjs/common';
import { LOW_STOCK_THRESHOLD } from 'src/app/catalog/catalog.jobs';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { Order, OrderItem } from 'src/app/orders/order.entity';
import type { PlaceOrderDto } from 'src/app/orders/place-order.dto';
import {
  JobsService,
  type Principal,
  PROBLEM_TYPES,
  ProblemException,
  ProblemFieldError,
  type ResourceRow,
  ResourceService,
  validationProblem,
} from 'nestor';

/** `order.total` is numeric(12,2): a larger sum would fail in SQL with a numeric overflow. */
const MAX_TOTAL_CENTS = 10n ** 12n;

/** Adds `place` to the generated order service: the stock-safe way to create an order. */
@Injectable()
export class OrderService extends ResourceService {
  @Inject(JobsService) private readonly jobs!: JobsService;

  /**
   * Places an order in one transaction: locks the products (in id order, so concurrent orders cannot
   * deadlock), checks and decrements stock, and records the unit prices. Nothing is written on error.
   */
  async place(body: PlaceOrderDto, customer: Principal): Promise<{ row: ResourceRow; etag: string }> {
    const quantities = new Map<number, number>();
    for (const line of body.items) {
      quantities.set(line.productId, (quantities.get(line.productId) ?? 0) + line.quantity);
    }
    const id = await this.dataSource.transaction(async (manager) => {
      const products = await manager
        .getRepository(Product)
        .createQueryBuilder('p')
        .setLock('pessimistic_write')
        .where('p.id IN (:...ids)', { ids: [...quantities.keys()] })
        .orderBy('p.id')
        .getMany();
      const byId = new Map(products.map((p) => [p.id, p]));
      const missing: ProblemFieldError[] = [];
      const short: ProblemFieldError[] = [];
      body.items.forEach((line, i) => {
        const product = byId.get(line.productId);
        if (!product || product.status !== ProductStatus.Active) {
          missing.push({
            pointer: `/items/${i}/productId`,
            code: 'exists',
            message: `no product on sale with id ${line.productId}`,
          });
        } else if (product.stock < quantities.get(line.productId)!) {
          short.push({
            pointer: `/items/${i}/quantity`,
            code: 'stock',
            message: `only ${product.stock} of ${product.sku} in stock`,
          });
        }
      });
      if (missing.length > 0) {
        throw validationProblem(missing);
      }
      if (short.length > 0) {
        throw new ProblemException({
          type: PROBLEM_TYPES.conflict,
          title: 'Insufficient stock',
          status: 409,
          detail: short.map((e) => e.message).join('; '),
          errors: short,
        });
      }
      let total = 0n;
      for (const [productId, quantity] of quantities) {
        total += BigInt(byId.get(productId)!.price.replace('.', '')) * BigInt(quantity);
      }
      if (total >= MAX_TOTAL_CENTS) {
        throw validationProblem([
          { pointer: '/items', code: 'max', message: 'the order total must be below 10000000000.00' },
        ]);
      }
      for (const [productId, quantity] of quantities) {
        await manager.decrement(Product, { id: productId }, 'stock', quantity);
        // Alert the staff once, when this order takes the stock below the threshold (the rows are locked).
        const before = byId.get(productId)!.stock;
        if (before >= LOW_STOCK_THRESHOLD && before - quantity < LOW_STOCK_THRESHOLD) {
          await this.jobs.enqueue('catalog.low-stock-alert', { productId }, {}, manager);
        }
      }
      const cents = total.toString().padStart(3, '0');
      const order = await manager.save(
        manager.create(Order, {
          customerId: customer.userId,
          total: `${cents.slice(0, -2)}.${cents.slice(-2)}`,
        }),
      );
      await manager.insert(
        OrderItem,
        body.items.map((line) => ({
          orderId: order.id,
          productId: line.productId,
          quantity: line.quantity,
          unitPrice: byId.get(line.productId)!.price,
        })),
      );
      // Published only if this transaction commits: a rolled-back order never sends a confirmation.
      await this.jobs.enqueue('orders.send-confirmation', { orderId: order.id }, {}, manager);
      // The order's history starts here, as a generated create would record it.
      await this.audit.recordWrite(manager, this.definition, {
        principal: customer,
        operation: 'create',
        recordId: order.id,
        before: null,
        after: { status: order.status, total: order.total, customerId: order.customerId },
      });
      return order.id;
    });
    const placed = await this.get(id, { include: ['items'], principal: customer });
    // Written outside the generated create: tell live updates (GraphQL's orderCreated) it has committed.
    this.events.committed(this.definition, 'create', id, placed.row);
    return placed;
  }
}
