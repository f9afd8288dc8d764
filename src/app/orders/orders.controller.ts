import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OrderResource } from 'src/app/orders/order.resource';
import {
  ApiVersion,
  Authenticated,
  CurrentPrincipal,
  Idempotent,
  InjectResourceService,
  type Principal,
  type ResourceRow,
} from 'nestor';
import type { OrderService } from 'src/app/orders/order.service';
import { PlaceOrderDto } from 'src/app/orders/place-order.dto';

/**
 * Custom routes of the orders resource. Placing an order is served in v1 (the default, deprecated like
 * products v1) and v2, at `/api/orders`, `/api/v1/orders` and `/api/v2/orders`.
 */
@ApiVersion({ 1: { deprecated: '2026-12-01', sunset: '2027-06-30' }, 2: {} })
@ApiTags('orders')
@ApiBearerAuth()
@Controller('api/orders')
export class OrdersController {
  constructor(@InjectResourceService(OrderResource) private readonly orders: OrderService) {}

  @Post()
  @Authenticated()
  @Idempotent() // a client that lost the answer retries with the same key: one order, never two
  @HttpCode(201)
  @ApiOperation({
    operationId: 'orders.place',
    summary: 'Place an order: checks and decrements stock atomically',
    description:
      'For the signed-in customer: each line names an active product and a quantity; prices are taken from ' +
      'the products at this moment. Either every line is in stock and the order is placed, or nothing changes.',
  })
  @ApiBody({ type: PlaceOrderDto })
  @ApiResponse({
    status: 201,
    description: 'The order, with its items',
    schema: { $ref: '#/components/schemas/Order' },
  })
  @ApiResponse({ status: 409, description: 'Not enough stock for an item (errors[].pointer names it)' })
  @ApiResponse({ status: 422, description: 'Invalid items, or a product that is not on sale' })
  async place(
    @Body() body: PlaceOrderDto,
    @CurrentPrincipal() customer: Principal,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ResourceRow> {
    const { row, etag } = await this.orders.place(body, customer);
    void reply.header('location', `${request.url.split('?')[0]}/${String(row.id)}`);
    void reply.header('etag', etag);
    return row;
  }
}
