import { Module } from '@nestjs/common';
import { DailySalesReportResource } from 'src/app/reports/daily-sales-report.resource';
import { ReportJobs } from 'src/app/reports/reports.jobs';
import { ResourceModule } from 'nestor';

@Module({
  imports: [ResourceModule.forFeature([DailySalesReportResource])],
  providers: [ReportJobs],
})
export class ReportsModule {}
