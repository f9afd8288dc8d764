import { IsEnum, IsInt, Min } from 'class-validator';
import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  OneToMany,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Product } from 'src/app/catalog/product.entity';
import { User } from 'nestor';

// An order and its lines share a file: they reference each other (a two-way relation), and one file keeps
// the import graph free of cycles (npm run check).

export enum OrderStatus {
  Pending = 'pending',
  Paid = 'paid',
  Shipped = 'shipped',
  Cancelled = 'cancelled',
}

/** A placed order; its total is the sum of its items at the prices when it was placed. */
@Entity('order')
export class Order {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'enum', enum: OrderStatus, enumName: 'order_status', default: OrderStatus.Pending })
  @IsEnum(OrderStatus)
  status!: OrderStatus;

  @Column({ type: 'numeric', precision: 12, scale: 2, default: 0 })
  total!: string;

  /** The customer who placed it: set from the caller, never from the body. */
  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL' })
  @JoinColumn({ name: 'customerId' })
  customer!: User | null;

  @Index()
  @Column({ type: 'int', nullable: true })
  customerId!: number | null;

  @OneToMany(() => OrderItem, (item) => item.order)
  items!: OrderItem[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}

/** One line of an order: a product, how many, and the unit price when ordered. */
@Entity('order_item')
@Check('CHK_order_item_quantity_positive', '"quantity" >= 1')
export class OrderItem {
  @PrimaryGeneratedColumn()
  id!: number;

  @ManyToOne(() => Order, (order) => order.items, { nullable: false, onDelete: 'CASCADE' })
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
