// Bodies of the admin-only endpoints (admin/README.md and src/framework/jobs/jobs-admin.dto.ts).

export interface AuditEntry {
  id: string;
  at: string;
  actorId: number | null;
  actorEmail: string | null;
  via: string;
  resource: string;
  recordId: string;
  operation: 'create' | 'update' | 'delete' | 'restore' | 'action';
  actionName: string | null;
  /** `{ price: ["10.00", "12.50"] }`: before, after. */
  changes: Record<string, [unknown, unknown]>;
}

export interface Dashboard {
  counts: Record<string, number>;
  recent: AuditEntry[];
  jobs: { failed: number; waiting: number; active: number };
}

/** 200 `{ message, affected }`, or 202 `{ jobId, queue }` (then `started`). */
export interface ActionResult {
  message?: string;
  affected?: number;
  jobId?: string;
  queue?: string;
  started?: boolean;
}

export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  paused: number;
  prioritized: number;
}

export interface JobSchedule {
  name: string;
  key: string;
  cron: string;
  next: string | null;
  declared: boolean;
  registered: boolean;
}

export interface JobQueue {
  name: string;
  counts: JobCounts;
  schedule: JobSchedule | null;
}

export interface Job {
  id: string;
  name: string;
  state: string;
  payload: unknown;
  attempts: number;
  maxAttempts: number;
  failedReason: string | null;
  stacktrace: string[];
  createdAt: string;
  processedAt: string | null;
  finishedAt: string | null;
  delay: number;
  priority: number;
}

export interface JobList {
  items: Job[];
  total: number;
}
