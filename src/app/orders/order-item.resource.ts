import { OrderItem } from 'src/app/orders/order.entity';
import { Resource } from 'nestor';

/**
 * `/api/order-items`: the lines of every order, read-only, for callers with `order-items.view` (staff; a
 * customer reads their own lines with `GET /api/orders/:id?include=items`). Lines are written only by placing
 * an order, which prices them and takes the stock; the admin lists them on the order page (an inline).
 */
@Resource(OrderItem, {
  actions: ['list', 'get'],
  filter: { orderId: ['eq', 'in'], productId: ['eq', 'in'], quantity: true, unitPrice: true },
  sort: ['quantity', 'unitPrice'],
  include: ['order', 'product'],
  admin: { icon: 'ReceiptLong', listDisplay: ['id', 'orderId', 'productId', 'quantity', 'unitPrice'] },
})
export class OrderItemResource {}
