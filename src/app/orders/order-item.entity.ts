import { IsInt, Min } from 'class-validator';
import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Product } from 'src/app/catalog/product.entity';
import type { Order } from 'src/app/orders/order.entity';

/** One line of an order: a product, how many, and the unit price when ordered. */
@Entity('order_item')
@Check('CHK_order_item_quantity_positive', '"quantity" >= 1')
export class OrderItem {
  @PrimaryGeneratedColumn()
  id!: number;

  // A string target avoids a require cycle between the two entity files.
  @ManyToOne('Order', 'items', { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'orderId' })
  order!: Order;

  @Index()
  @Column({ type: 'int' })
  orderId!: number;

  @ManyToOne(() => Product, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'productId' })
  product!: Product;

  @Index()
  @Column({ type: 'int' })
  productId!: number;

  @Column({ type: 'int' })
  @IsInt()
  @Min(1)
  quantity!: number;

  @Column({ type: 'numeric', precision: 10, scale: 2 })
  unitPrice!: string;
}
