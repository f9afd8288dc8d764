import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from 'src/framework/health/health.controller';
import { ReadinessGate } from 'src/framework/health/readiness-gate';
import { RedisHealth } from 'src/framework/health/redis-health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RedisHealth, ReadinessGate],
  exports: [ReadinessGate],
})
export class HealthModule {}
