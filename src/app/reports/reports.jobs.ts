import { Injectable } from '@nestjs/common';
import { IsOptional, Matches } from 'class-validator';
import { DataSource } from 'typeorm';
import { Job } from 'nestor';

/** The cron's payload is `{}` (yesterday); `date` reports another UTC day, e.g. to rerun one. */
export class DailySalesPayload {
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'date must be YYYY-MM-DD' })
  date?: string;
}

/** Yesterday in UTC, `YYYY-MM-DD`. */
export function yesterdayUtc(now = new Date()): string {
  return new Date(now.getTime() - 24 * 3600 * 1000).toISOString().slice(0, 10);
}

/** The shop's scheduled reports. */
@Injectable()
export class ReportJobs {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * At 02:00 (the worker's time zone), records yesterday's (UTC) orders and revenue. Idempotent: one row
   * per date, recomputed by an upsert, so a retried or rerun job rewrites the same row.
   */
  @Job('reports.daily-sales', { payload: DailySalesPayload, cron: '0 2 * * *', attempts: 3, backoff: 60_000 })
  async dailySales({ date = yesterdayUtc() }: DailySalesPayload): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO daily_sales_report (date, "ordersCount", revenue)
       SELECT $1::date, count(*)::int, coalesce(sum(total), 0) FROM "order"
        WHERE "createdAt" >= ($1::date)::timestamp AT TIME ZONE 'UTC'
          AND "createdAt" < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'
          AND status <> 'cancelled'
       ON CONFLICT (date) DO UPDATE
         SET "ordersCount" = EXCLUDED."ordersCount", revenue = EXCLUDED.revenue, "updatedAt" = now()`,
      [date],
    );
  }
}
