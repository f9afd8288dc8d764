import { ApiProperty } from '@nestjs/swagger';

// The shapes of the probes' answers, for the OpenAPI document (Terminus builds the readiness one).

/** One check of the readiness probe (`database`, `migrations`, `redis`; `shutdown` while draining). */
const CHECKS = {
  type: 'object' as const,
  properties: {},
  description:
    'By check name: `database`, `migrations` and, with REDIS_URL, `redis`; `shutdown` (down) after SIGTERM',
  patternProperties: {
    '^[a-z]+$': {
      type: 'object',
      description: 'A check that is down also says why in `message`',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['up', 'down'] } },
    },
  },
  example: { database: { status: 'up' }, migrations: { status: 'up' } },
};

export class LivenessDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

/** `GET /health/ready` when ready (Terminus' result: every check up). */
export class ReadinessDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
  @ApiProperty({ ...CHECKS, description: 'The checks that are up' }) info!: object;
  @ApiProperty({ ...CHECKS, description: 'The checks that are down (none when ready)' }) error!: object;
  @ApiProperty({ ...CHECKS, description: 'Every check' }) details!: object;
}
