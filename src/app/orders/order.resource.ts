import { OrderService } from 'src/app/orders/order.service';
import { Order } from 'src/app/orders/order.entity';
import { Resource } from 'src/framework/resource/resource.decorator';

/**
 * `/api/orders`: read, update status and delete are generated; placing an order is the custom
 * `POST /api/orders` (OrdersController), since it locks and decrements stock.
 */
@Resource(Order, {
  actions: ['list', 'get', 'update', 'delete'],
  readOnly: ['total'],
  filter: { status: true, total: true, createdAt: true, 'items.productId': ['eq', 'in'] },
  sort: ['createdAt', 'total', 'status'],
  defaultSort: '-createdAt',
  include: ['items', 'items.product'],
  service: OrderService,
  admin: { listColumns: ['id', 'status', 'total', 'createdAt'] },
})
export class OrderResource {}
