import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { migrationStates } from 'src/framework/database/migration-runner';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { LivenessDto, ReadinessDto } from 'src/framework/health/health.dto';
import { ReadinessGate } from 'src/framework/health/readiness-gate';
import { RedisHealth } from 'src/framework/health/redis-health';
import { Public } from 'src/framework/access/auth.decorators';

/**
 * Every readiness check answers within this: Kubernetes' default probe timeout is 1 s, and a hung database
 * must turn the probe red at once rather than after the pool's own deadlines.
 */
export const READY_CHECK_TIMEOUT_MS = 1000;

@ApiTags('operations')
@Public()
// Probes are never throttled: a limited probe would take a healthy instance out of service.
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealth,
    private readonly gate: ReadinessGate,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Get('live')
  @ApiOperation({
    operationId: 'healthLive',
    summary: 'Liveness: the process is up',
    description: 'For a liveness probe: answers without touching the database or Redis. Never throttled.',
  })
  @ApiOkResponse({ type: LivenessDto, description: 'The process answers' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    operationId: 'healthReady',
    summary: 'Readiness: database reachable, Redis reachable when configured, no pending migrations',
    description: `For a readiness probe: each check answers within ${READY_CHECK_TIMEOUT_MS} ms. Never throttled. After SIGTERM it answers 503 (check \`shutdown\`) while the process drains.`,
  })
  @ApiOkResponse({ type: ReadinessDto, description: 'Ready to serve' })
  @ApiServiceUnavailableResponse({ description: 'Not ready; `checks` says which dependency failed' })
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.db.pingCheck('database').withTimeout(READY_CHECK_TIMEOUT_MS),
        () =>
          this.indicators
            .check('migrations')
            .attempt(async () => {
              if ((await migrationStates(this.dataSource)).some((m) => !m.applied)) {
                throw new Error('pending migrations: run `npx nestor migrate`');
              }
            })
            .withTimeout(READY_CHECK_TIMEOUT_MS),
        ...(this.redis.enabled ? [() => this.redis.check(READY_CHECK_TIMEOUT_MS)] : []),
        ...(this.gate.closedBecause
          ? [() => this.indicators.check('shutdown').down({ message: this.gate.closedBecause })]
          : []),
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        const result = error.getResponse() as HealthCheckResult;
        const failing = Object.keys(result.error ?? {});
        throw new ProblemException({
          type: PROBLEM_TYPES.dependencyDown,
          title: 'Service Unavailable',
          status: 503,
          detail: `Not ready: ${failing.join(', ')}`,
          checks: result.details,
        });
      }
      throw error;
    }
  }
}
