import { AuditEntry } from 'src/framework/audit/audit-entry.entity';
import { AuditEntryService } from 'src/framework/admin/audit-entry.service';
import { Resource } from 'src/framework/resource/resource.decorator';

/**
 * `/api/audit-entries`: the change history, read-only, for staff with `audit-entries.view` (each sees the
 * entries of the resources they may view). A record's history:
 * `GET /api/audit-entries?filter[resource]=products&filter[recordId]=5` (newest first).
 */
@Resource(AuditEntry, {
  staffOnly: true,
  actions: ['list', 'get'],
  // Written by AuditService only: documented (and shown in the admin) as read-only.
  readOnly: ['actorId', 'actorEmail', 'via', 'resource', 'recordId', 'operation', 'actionName', 'changes'],
  filter: {
    resource: ['eq', 'in'],
    recordId: ['eq', 'in'],
    operation: ['eq', 'in'],
    actionName: ['eq', 'in', 'isnull'],
    actorId: ['eq', 'in', 'isnull'],
    via: ['eq', 'in'],
    at: ['gt', 'gte', 'lt', 'lte', 'between'],
  },
  search: ['actorEmail'],
  sort: ['at'],
  defaultSort: '-at',
  // The log only grows: past this many matching rows, meta.total is the planner's estimate, not a COUNT(*).
  estimateCountAbove: 10000,
  service: AuditEntryService,
  admin: {
    icon: 'History',
    listDisplay: ['at', 'actorEmail', 'via', 'operation', 'resource', 'recordId'],
    listFilter: ['resource', 'operation', 'via'],
    labels: { at: 'When', actorEmail: 'Who', recordId: 'Record' },
  },
})
export class AuditEntryResource {}
