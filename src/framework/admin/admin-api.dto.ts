import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_ACTION_IDS } from 'src/framework/admin/admin-actions.service';
import { AUDIT_OPERATIONS } from 'src/framework/audit/audit-entry.entity';
import { EMAIL_MAX_LENGTH } from 'src/framework/auth/auth.dto';
import { JOB_NAME_MAX_LENGTH, JOB_NAME_RE } from 'src/framework/jobs/job.registry';
import { INT32_MAX } from 'src/framework/openapi/route-docs';

// The shapes of the admin API's own answers, for the OpenAPI document (the handlers build plain objects).

/** A count of rows or jobs: a JavaScript number. */
const COUNT = { type: 'integer', format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const DATE_TIME = { type: 'string', format: 'date-time', maxLength: 30 } as const;
/** A resource's path segment, e.g. `order-items` (kebab-case, checked at boot). */
export const RESOURCE_PATH_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';

export class AdminUserDto {
  @ApiProperty({ type: 'integer', format: 'int32', minimum: 1, maximum: INT32_MAX }) id!: number;
  @ApiProperty({ format: 'email', maxLength: EMAIL_MAX_LENGTH }) email!: string;
  @ApiProperty() isStaff!: boolean;
  @ApiProperty() isSuperuser!: boolean;
}

/** `GET /admin/api/schema`: what the admin renders, for the signed-in staff member. */
export class AdminSchemaDto {
  @ApiProperty({
    type: 'integer',
    format: 'int32',
    enum: [1],
    minimum: 1,
    maximum: 1,
    description: 'The contract version',
  })
  version!: 1;

  @ApiProperty({ type: AdminUserDto }) user!: AdminUserDto;

  @ApiProperty({
    type: 'array',
    description:
      'One entry per resource the user may see: fields, list display and filters, forms, actions and the ' +
      "user's permissions on it (the full contract is in the admin's README)",
    items: { type: 'object' },
  })
  resources!: object[];
}

export class ActionDoneDto {
  @ApiProperty({ enum: ['done'] }) status!: 'done';
  @ApiProperty({ maxLength: 500, pattern: '\\S', example: '2 product(s) archived' }) message!: string;
  @ApiProperty({ ...COUNT, maximum: MAX_ACTION_IDS, description: 'Records the action ran on' })
  affected!: number;
}

export class ActionStartedDto {
  @ApiProperty({ enum: ['started'] }) status!: 'started';
  @ApiProperty({
    format: 'uuid',
    maxLength: 36,
    description: 'Follow it at /admin/api/jobs/queues/{queue}/jobs/{jobId}',
  })
  jobId!: string;
  @ApiProperty({ maxLength: JOB_NAME_MAX_LENGTH, pattern: JOB_NAME_RE.source, example: 'admin.action' })
  queue!: string;
}

/** The body of `POST /admin/api/actions/{path}/{action}`. */
export const ACTION_BODY_SCHEMA = {
  type: 'object',
  required: ['ids'],
  properties: {
    ids: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_ACTION_IDS,
      description: 'The selected records: integer ids, or string ids for resources keyed by text or uuid',
      items: {
        anyOf: [
          { type: 'integer', format: 'int64', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          { type: 'string', minLength: 1, maxLength: 100, pattern: '^\\S+$' },
        ],
      },
      example: [1],
    },
    input: { type: 'object', description: "The action's form values, when it declares a form" },
  },
};

class DashboardJobsDto {
  @ApiProperty(COUNT) failed!: number;
  @ApiProperty({ ...COUNT, description: 'Waiting, prioritized included' }) waiting!: number;
  @ApiProperty(COUNT) active!: number;
  @ApiProperty(COUNT) delayed!: number;
}

class RecentChangeDto {
  @ApiProperty({ pattern: '^[0-9]+$', maxLength: 20, description: 'The audit entry id (a bigint, as text)' })
  id!: string;

  @ApiProperty(DATE_TIME) at!: string;
  @ApiProperty({
    type: 'integer',
    format: 'int32',
    minimum: 1,
    maximum: 2147483647,
    nullable: true,
    example: 1,
  })
  actorId!: number | null;
  @ApiProperty({ type: String, format: 'email', maxLength: 320, nullable: true }) actorEmail!: string | null;
  @ApiProperty({ enum: ['api', 'admin', 'system'] }) via!: string;
  @ApiProperty({ maxLength: 100, pattern: RESOURCE_PATH_PATTERN, example: 'products' }) resource!: string;
  @ApiProperty({ maxLength: 100, pattern: '^\\S+$', example: '42' }) recordId!: string;
  @ApiProperty({ enum: AUDIT_OPERATIONS }) operation!: string;
  @ApiPropertyOptional({ type: String, maxLength: 100, pattern: '^\\S+$', nullable: true, example: null })
  actionName!: string | null;

  // The admin shows a deleted record by the title this entry kept.
  @ApiProperty({
    type: 'object',
    description: 'What changed, as in the audit log: field → [before, after]',
    additionalProperties: { type: 'array', minItems: 2, maxItems: 2, items: {} },
    example: { name: ['Espresso cup', 'Espresso cup, blue'] },
  })
  changes!: Record<string, [unknown, unknown]>;
}

/** `GET /admin/api/dashboard`. */
export class AdminDashboardDto {
  @ApiProperty({
    type: 'object',
    properties: {},
    description: 'Rows per resource the user may list, by resource path',
    patternProperties: { [RESOURCE_PATH_PATTERN]: COUNT },
    example: { products: 1000, orders: 42 },
  })
  counts!: Record<string, number>;

  @ApiProperty({
    type: [RecentChangeDto],
    maxItems: 10,
    description: 'The 10 latest changes to resources the user may view',
  })
  recent!: RecentChangeDto[];

  @ApiProperty({ type: DashboardJobsDto, description: 'Jobs by state, over every queue' })
  jobs!: DashboardJobsDto;
}
