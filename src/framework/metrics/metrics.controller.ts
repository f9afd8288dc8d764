import { Controller, Get, Header, Injectable } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public, RequirePermission } from 'src/framework/access/auth.decorators';
import { FRAMEWORK_PERMISSIONS } from 'src/framework/access/principal';
import { MetricsService } from 'src/framework/metrics/metrics.service';

/** `GET /metrics`; who may call it is the subclass's decorator, chosen by METRICS (MetricsModule). */
// Decorated so TypeScript records the constructor's parameter types, which the subclasses inherit.
@Injectable()
@SkipThrottle() // scrapes are periodic and cheap
abstract class MetricsEndpoint {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    description: `Public with METRICS=public (the default); with METRICS=protected it needs the \`${FRAMEWORK_PERMISSIONS.metrics}\` permission: scrape with an API key holding it (\`Authorization: Bearer nst_…\`).`,
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Metrics in the Prometheus text format', schema: { type: 'string' } })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

/** METRICS=public. */
@ApiTags('operations')
@Public()
@Controller('metrics')
export class PublicMetricsController extends MetricsEndpoint {}

/** METRICS=protected: the `metrics.view` permission (anonymous → 401, without it → 403). */
@ApiTags('operations')
@RequirePermission(FRAMEWORK_PERMISSIONS.metrics)
@Controller('metrics')
export class ProtectedMetricsController extends MetricsEndpoint {}
