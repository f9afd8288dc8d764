import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { DataSource, EntityManager } from 'typeorm';
import { AdminActionContext } from 'src/framework/resource/admin-action.decorator';
import { AdminSchemaService, ResolvedAdminAction } from 'src/framework/admin/admin-schema.service';
import { diff } from 'src/framework/audit/audit-diff';
import { ResourceCache } from 'src/framework/resource/resource-cache';
import { AuditService } from 'src/framework/audit/audit.service';
import { can, loadPrincipal, Principal } from 'src/framework/access/principal';
import { forbidden } from 'src/framework/access/problems';
import { fieldErrors, validationProblem } from 'src/framework/http/validation';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { JobsService } from 'src/framework/jobs/jobs.service';
import { ResourceDefinition } from 'src/framework/resource/resource-definition';
import { ident, tableOf } from 'src/framework/database/sql';

/** At most this many records per action run (a bigger selection is split by the admin). */
export const MAX_ACTION_IDS = 1000;
/** The job that runs `job: true` actions. */
export const ADMIN_ACTION_JOB = 'admin.action';

/** What an action run answers: done now, or started as a job. */
export type ActionResult =
  { status: 'done'; message: string; affected: number } | { status: 'started'; jobId: string; queue: string };

/** A run request, as the admin sends it and as the job carries it. */
export interface ActionRequest {
  ids: unknown;
  input?: unknown;
}

function notFound(detail: string): ProblemException {
  return new ProblemException({ type: PROBLEM_TYPES.notFound, title: 'Not found', status: 404, detail });
}

function badInput(pointer: string, message: string): ProblemException {
  return validationProblem([{ pointer, code: 'invalid', message }]);
}

/**
 * Runs admin actions declared with `@AdminAction`: checks the permission, validates the ids and the input
 * form, then calls the method in one transaction (or enqueues the `admin.action` job for `job: true`).
 */
@Injectable()
export class AdminActionsService {
  constructor(
    private readonly schema: AdminSchemaService,
    private readonly dataSource: DataSource,
    private readonly moduleRef: ModuleRef,
    private readonly jobs: JobsService,
    private readonly audit: AuditService,
    private readonly cache: ResourceCache,
  ) {}

  /** Validates and runs (or enqueues) an action for `principal`. */
  async run(path: string, name: string, request: ActionRequest, principal: Principal): Promise<ActionResult> {
    const action = this.schema.action(path, name);
    const definition = this.schema.definition(path);
    if (!action || !definition) {
      throw notFound(`There is no admin action "${name}" on ${path}.`);
    }
    if (!can(principal, action.schema.permission)) {
      throw forbidden(`This action needs the ${action.schema.permission} permission.`);
    }
    const ids = this.parseIds(definition, request.ids);
    const input = await this.parseInput(action, request.input);
    await this.requireExisting(definition, ids);
    if (action.schema.job) {
      const jobId = await this.jobs.enqueue(ADMIN_ACTION_JOB, {
        resource: path,
        action: name,
        ids: ids.map(String),
        input: request.input ?? null,
        userId: principal.userId,
      });
      return { status: 'started', jobId, queue: ADMIN_ACTION_JOB };
    }
    return this.execute(definition, action, ids, input, principal);
  }

  /** The job side of a `job: true` action: runs it as the user who started it. */
  async runAsJob(payload: {
    resource: string;
    action: string;
    ids: string[];
    input: unknown;
    userId: number;
  }): Promise<string> {
    const action = this.schema.action(payload.resource, payload.action);
    const definition = this.schema.definition(payload.resource);
    if (!action || !definition) {
      throw new Error(`admin action ${payload.resource}/${payload.action} no longer exists`);
    }
    const principal = await loadPrincipal(this.dataSource, payload.userId, 'session');
    if (!principal || !can(principal, action.schema.permission)) {
      throw new Error(`user ${payload.userId} may no longer run ${payload.resource}/${payload.action}`);
    }
    const ids = this.parseIds(definition, payload.ids);
    const input = await this.parseInput(action, payload.input ?? undefined);
    return (await this.execute(definition, action, ids, input, principal)).message;
  }

  private async execute(
    definition: ResourceDefinition,
    action: ResolvedAdminAction,
    ids: unknown[],
    input: unknown,
    principal: Principal,
  ): Promise<{ status: 'done'; message: string; affected: number }> {
    const instance = this.moduleRef.get<
      object,
      Record<string, (context: AdminActionContext<unknown>) => Promise<string | void> | string | void>
    >(action.resourceClass, { strict: false });
    // Invalidated after COMMIT, like every write of ResourceService; an action writing other tables `touch`es them.
    const message = await this.cache.afterCommit(this.dataSource, definition, async (manager) => {
      const before = await this.snapshot(manager, definition, ids);
      const result = await instance[action.declaration.method]({ ids, input, manager, principal });
      // One history entry per selected record, with what the action changed in it.
      const after = await this.snapshot(manager, definition, ids);
      const omitted = this.audit.omittedFields(definition);
      await this.audit.record(
        manager,
        ids.map((id) => ({
          principal,
          resource: definition.path,
          recordId: id,
          operation: 'action' as const,
          actionName: action.schema.name,
          changes: diff(before.get(String(id)), after.get(String(id)), omitted),
        })),
      );
      return typeof result === 'string' ? result : `${action.schema.label}: ${ids.length} done`;
    });
    return { status: 'done', message, affected: ids.length };
  }

  /** The selected rows' column values by id (deleted rows too), for the history's before/after. */
  private async snapshot(
    manager: EntityManager,
    definition: ResourceDefinition,
    ids: unknown[],
  ): Promise<Map<string, Record<string, unknown>>> {
    const columns = definition.readable
      .filter((field) => field.kind !== 'toManyIds' && field.column)
      .map((field) => `${ident(field.column!.databaseName)} AS ${ident(field.name)}`);
    const idColumn = ident(definition.id.column!.databaseName);
    const rows = await manager.query<Record<string, unknown>[]>(
      `SELECT ${idColumn} AS "__id", ${columns.join(', ')} FROM ${tableOf(definition.metadata)} WHERE ${idColumn} = ANY($1)`,
      [ids],
    );
    return new Map(rows.map(({ __id, ...row }) => [String(__id), row]));
  }

  private parseIds(definition: ResourceDefinition, raw: unknown): unknown[] {
    if (!Array.isArray(raw) || raw.length === 0) {
      throw badInput('/ids', 'ids must be a non-empty array of record ids');
    }
    if (raw.length > MAX_ACTION_IDS) {
      throw badInput('/ids', `at most ${MAX_ACTION_IDS} ids per run`);
    }
    const service = this.schema.serviceOf(definition);
    return [
      ...new Set(
        raw.map((id, i) => {
          if (typeof id !== 'string' && typeof id !== 'number') {
            throw badInput(`/ids/${i}`, 'an id is a string or a number');
          }
          try {
            return service.parseId(String(id));
          } catch {
            throw badInput(`/ids/${i}`, `${String(id)} is not a ${definition.name} id`);
          }
        }),
      ),
    ];
  }

  private async parseInput(action: ResolvedAdminAction, raw: unknown): Promise<unknown> {
    const inputClass = action.declaration.options.input;
    if (!inputClass) {
      return undefined;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw badInput(
        '/input',
        `this action needs its form: ${action.schema.input?.map((f) => f.name).join(', ')}`,
      );
    }
    const input = plainToInstance(inputClass, raw);
    const errors = await validate(input, { whitelist: true, forbidNonWhitelisted: true });
    if (errors.length > 0) {
      throw validationProblem(fieldErrors(errors, '/input'));
    }
    return input;
  }

  /** Every selected record must exist (soft-deleted ones included): a stale selection is a 404. */
  private async requireExisting(definition: ResourceDefinition, ids: unknown[]): Promise<void> {
    const column = ident(definition.id.column!.databaseName);
    const rows = await this.dataSource.query<{ id: unknown }[]>(
      `SELECT ${column} AS id FROM ${tableOf(definition.metadata)} WHERE ${column} = ANY($1)`,
      [ids],
    );
    const found = new Set(rows.map((row) => String(row.id)));
    const missing = ids.filter((id) => !found.has(String(id)));
    if (missing.length > 0) {
      throw notFound(`No ${definition.name} with id ${missing.map(String).join(', ')}.`);
    }
  }
}
