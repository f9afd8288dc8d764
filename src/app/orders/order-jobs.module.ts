import { Module } from '@nestjs/common';
import { OrderJobs } from 'src/app/orders/order.jobs';

/** The order jobs, in a module of their own so the order resource (its admin actions) can inject them. */
@Module({ providers: [OrderJobs], exports: [OrderJobs] })
export class OrderJobsModule {}
