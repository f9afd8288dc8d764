import { ApiProperty } from '@nestjs/swagger';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** One day's sales (UTC), written by the `reports.daily-sales` job; one row per date. */
@Entity('daily_sales_report')
export class DailySalesReport {
  @PrimaryGeneratedColumn()
  id!: number;

  /** The UTC day reported, `YYYY-MM-DD`. */
  @ApiProperty({ example: '2026-01-31' })
  @Column({ type: 'date', unique: true })
  date!: string;

  /** Orders placed that day, cancelled ones excluded. */
  @Column({ type: 'int' })
  ordersCount!: number;

  /** Sum of their totals, a decimal string ("1234.50"). */
  @ApiProperty({ example: '1234.50' })
  @Column({ type: 'numeric', precision: 14, scale: 2 })
  revenue!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
