import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OrderItem } from 'src/app/orders/order-item.entity';
import { OrderResource } from 'src/app/orders/order.resource';
import { OrderJobsModule } from 'src/app/orders/order-jobs.module';
import { OrdersController } from 'src/app/orders/orders.controller';
import { ResourceModule } from 'src/framework/resource/resource.module';

@Module({
  // OrderItem is not a resource of its own: it is read through `include=items` and written by placing orders.
  imports: [
    ResourceModule.forFeature([OrderResource], { imports: [OrderJobsModule] }),
    TypeOrmModule.forFeature([OrderItem]),
    OrderJobsModule,
  ],
  controllers: [OrdersController],
})
export class OrdersModule {}
