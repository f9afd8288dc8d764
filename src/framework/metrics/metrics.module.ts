import { Module } from '@nestjs/common';
import { MetricsController } from 'src/framework/metrics/metrics.controller';
import { MetricsService } from 'src/framework/metrics/metrics.service';

@Module({ controllers: [MetricsController], providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}
