import { DynamicModule, Module } from '@nestjs/common';
import type { NestorConfig } from 'src/framework/config/nestor-config';
import {
  ProtectedMetricsController,
  PublicMetricsController,
} from 'src/framework/metrics/metrics.controller';
import { MetricsService } from 'src/framework/metrics/metrics.service';

/** The metrics registry, one per app: import it to record metrics. */
@Module({ providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}

/** `GET /metrics`, public or protected as METRICS says. Example: `MetricsEndpointModule.forRoot(config)`. */
@Module({})
export class MetricsEndpointModule {
  static forRoot(config: Pick<NestorConfig, 'metrics'>): DynamicModule {
    return {
      module: MetricsEndpointModule,
      imports: [MetricsModule],
      controllers: [config.metrics === 'protected' ? ProtectedMetricsController : PublicMetricsController],
    };
  }
}
