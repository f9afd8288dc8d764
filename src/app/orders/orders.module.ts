import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OrderItem } from 'src/app/orders/order-item.entity';
import { Order } from 'src/app/orders/order.entity';

@Module({ imports: [TypeOrmModule.forFeature([Order, OrderItem])], exports: [TypeOrmModule] })
export class OrdersModule {}
