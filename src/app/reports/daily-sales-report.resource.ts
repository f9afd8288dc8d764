import { DailySalesReport } from 'src/app/reports/daily-sales-report.entity';
import { Resource } from 'nestor';

/** `/api/daily-sales-reports`: read-only for staff; rows are written by the `reports.daily-sales` job. */
@Resource(DailySalesReport, {
  staffOnly: true,
  actions: ['list', 'get'],
  filter: { date: true },
  sort: ['date'],
  defaultSort: '-date',
  admin: { icon: 'Assessment', listDisplay: ['date', 'ordersCount', 'revenue'], titleField: 'date' },
})
export class DailySalesReportResource {}
