import { IsEnum } from 'class-validator';
import {
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
import { OrderItem } from 'src/app/orders/order-item.entity';
import { User } from 'src/framework/auth/user.entity';

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
