import type { EntityTarget, ObjectLiteral } from 'typeorm';
import { AuditEntry } from 'src/framework/audit/audit-entry.entity';
import { AUTH_ENTITIES } from 'src/framework/auth/auth.module';
import { IdempotencyRecord } from 'src/framework/idempotency/idempotency-record.entity';
import { JobEffect, JobOutbox, JobSchedule } from 'src/framework/jobs/job-outbox.entity';

/**
 * Every entity whose table the framework owns: its migrations (src/framework/database/migrations) create
 * them, and an app's `makemigrations` leaves them out. A framework entity missing here would be written
 * into the app's migrations, so a spec checks this list against what the framework registers.
 * Example: `FRAMEWORK_ENTITIES.includes(User)` → `true`.
 */
export const FRAMEWORK_ENTITIES: readonly EntityTarget<ObjectLiteral>[] = [
  ...AUTH_ENTITIES,
  AuditEntry,
  IdempotencyRecord,
  JobOutbox,
  JobSchedule,
  JobEffect,
];
