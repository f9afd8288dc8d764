import { Args, Mutation, Resolver } from '@nestjs/graphql';
import { OrderResource } from 'src/app/orders/order.resource';
import type { OrderService } from 'src/app/orders/order.service';
import { PlaceOrderDto } from 'src/app/orders/place-order.dto';
import {
  Authenticated,
  CurrentPrincipal,
  InjectResourceService,
  type Principal,
  type ResourceRow,
  resourceObjectType,
} from 'nestor';

/**
 * The shop's own GraphQL mutation beside the generated ones: `placeOrder`, through the same service as
 * `POST /api/orders` (stock locked and decremented, the confirmation mail queued in the outbox, audited).
 * It answers the generated `Order` type, so clients can select its `items { product { name } }`.
 */
/** The generated `Order` type (taken once, at load: decorators read it when the schema is built). */
const OrderType = resourceObjectType(OrderResource);

@Resolver()
export class OrdersResolver {
  constructor(@InjectResourceService(OrderResource) private readonly orders: OrderService) {}

  @Authenticated()
  @Mutation(() => OrderType, {
    description: 'Place an order for the signed-in customer: every line in stock, or nothing changes.',
  })
  async placeOrder(
    @Args('input') input: PlaceOrderDto,
    @CurrentPrincipal() customer: Principal,
  ): Promise<ResourceRow> {
    return (await this.orders.place(input, customer)).row;
  }
}
