import { Module } from '@nestjs/common';
import { OrderItemResource } from 'src/app/orders/order-item.resource';
import { OrderResource } from 'src/app/orders/order.resource';
import { OrderJobsModule } from 'src/app/orders/order-jobs.module';
import { OrdersController } from 'src/app/orders/orders.controller';
import { OrdersResolver } from 'src/app/orders/orders.resolver';
import { ResourceModule } from 'nestor';

@Module({
  imports: [
    ResourceModule.forFeature([OrderResource, OrderItemResource], { imports: [OrderJobsModule] }),
    OrderJobsModule,
  ],
  controllers: [OrdersController],
  providers: [OrdersResolver],
})
export class OrdersModule {}
