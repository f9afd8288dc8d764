import { Readable } from 'node:stream';
import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { stringify } from 'csv-stringify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { ActionResult, AdminActionsService } from 'src/framework/admin/admin-actions.service';
import {
  ACTION_BODY_SCHEMA,
  ActionDoneDto,
  ActionStartedDto,
  AdminDashboardDto,
  AdminSchemaDto,
  RESOURCE_PATH_PATTERN,
} from 'src/framework/admin/admin-api.dto';
import { AdminSchemaService } from 'src/framework/admin/admin-schema.service';
import type { AdminSchema } from 'src/framework/admin/admin-schema.types';
import { spreadsheetCsvOptions } from 'src/framework/admin/spreadsheet-csv';
import { CurrentPrincipal } from 'src/framework/access/auth.decorators';
import { can, Principal } from 'src/framework/access/principal';
import { forbidden } from 'src/framework/access/problems';
import { StaffOnly } from 'src/framework/access/staff-only';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { JobBackend } from 'src/framework/jobs/backends/job-backend';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import { createInspector, JobsInspector } from 'src/framework/jobs/jobs-inspector';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';
import { ApiInvalidBody, ApiPathParam } from 'src/framework/openapi/route-docs';
import { parseListQuery } from 'src/framework/resource/query/list-query-parser';
import type { ListQuery } from 'src/framework/resource/query-types';
import type { ResourceDefinition } from 'src/framework/resource/resource-definition';
import type { ResourceService } from 'src/framework/resource/resource.service';
import { visibleAuditResources } from 'src/framework/admin/audit-entry.service';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

/** Rows fetched per page while exporting (the whole list is streamed page after page). */
const EXPORT_PAGE = 500;

/** Every row of a list query, page after page by cursor, for the CSV export. */
async function* exportRows(
  service: ResourceService,
  first: ListQuery,
  raw: Record<string, unknown>,
  definition: ResourceDefinition,
  principal: Principal,
): AsyncGenerator<Record<string, unknown>> {
  let query = first;
  // The raw query of each page, as sent: the resource cache keys a page by it, so each page needs its own.
  let pageRaw: Record<string, unknown> = { ...raw, limit: String(EXPORT_PAGE) };
  for (;;) {
    const page = await service.list(query, { path: `/api/${definition.path}`, query: pageRaw }, principal);
    yield* page.data;
    const next = page.meta.nextCursor;
    if (!next || page.data.length === 0) {
      return;
    }
    pageRaw = { ...raw, limit: String(EXPORT_PAGE), after: next };
    query = parseListQuery(pageRaw, definition.query);
  }
}

function notFound(detail: string): ProblemException {
  return new ProblemException({ type: PROBLEM_TYPES.notFound, title: 'Not found', status: 404, detail });
}

/**
 * The admin panel's own endpoints, for staff: the schema the UI renders from, actions, CSV export and the
 * dashboard. Everything else the admin does goes through the ordinary REST resources.
 */
@ApiTags('admin')
@StaffOnly()
@Controller('admin/api')
export class AdminController {
  private readonly jobsInspector: JobsInspector;

  constructor(
    private readonly schema: AdminSchemaService,
    private readonly actions: AdminActionsService,
    private readonly dataSource: DataSource,
    private readonly jobRegistry: JobRegistry,
    private readonly registry: ResourceRegistry,
    config: NestorConfig,
    jobBackend: JobBackend,
    settler: OutboxSettler,
  ) {
    this.jobsInspector = createInspector(config, jobBackend, settler, dataSource, jobRegistry);
  }

  @Get('schema')
  @ApiOperation({
    operationId: 'admin.schema',
    summary: 'The admin schema: resources, fields, lists, filters, forms, actions and your permissions',
    description:
      'What the admin panel renders from, for the signed-in staff member: only the resources they may view, ' +
      'with their permissions on each. The contract (version 1) is described in the admin README.',
  })
  @ApiOkResponse({ type: AdminSchemaDto })
  getSchema(@CurrentPrincipal() principal: Principal): AdminSchema {
    return this.schema.schemaFor(principal);
  }

  @Post('actions/:path/:action')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'admin.action',
    summary: 'Run an admin action on selected records',
    description:
      "Checks the action's permission, runs it in one transaction and writes an audit entry per record. " +
      'Actions declared with `job: true` run in the background instead: 202 with the job to follow.',
  })
  @ApiPathParam('path', {
    description: 'The resource path',
    pattern: RESOURCE_PATH_PATTERN,
    example: 'products',
  })
  @ApiPathParam('action', { description: 'The action name', pattern: '^\\S+$', example: 'archive' })
  @ApiBody({
    description: 'The selected records and, for actions with a form, its values (validated on the server)',
    schema: ACTION_BODY_SCHEMA,
  })
  @ApiOkResponse({ type: ActionDoneDto, description: 'Done' })
  @ApiAcceptedResponse({ type: ActionStartedDto, description: 'Started as a job (actions with `job: true`)' })
  @ApiResponse({ status: 404, description: 'Unknown action, or a selected record does not exist' })
  @ApiInvalidBody('Bad ids or input form')
  async runAction(
    @Param('path') path: string,
    @Param('action') action: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ActionResult> {
    const request = (typeof body === 'object' && body !== null ? body : {}) as {
      ids?: unknown;
      input?: unknown;
    };
    const result = await this.actions.run(
      path,
      action,
      { ids: request.ids, input: request.input },
      principal,
    );
    if (result.status === 'started') {
      void reply.status(202);
    }
    return result;
  }

  @Get('export/:file')
  @ApiOperation({
    operationId: 'admin.export',
    summary: 'CSV of a resource list with the list query (filters, search, sort), all pages',
    description:
      "Takes the resource's list query parameters (filter, q, sort, fields) and streams every matching row, " +
      'one header line first, as an attachment. Needs `<path>.view` (owned resources: your own rows).',
  })
  @ApiPathParam('file', {
    description: '`<resource path>.csv`',
    pattern: '^[a-z0-9]+(-[a-z0-9]+)*\\.csv$',
    example: 'products.csv',
  })
  @ApiOkResponse({
    description: 'The CSV (readable fields only), UTF-8, a header line first',
    content: {
      'text/csv': {
        schema: { type: 'string', description: 'RFC 4180 CSV', example: 'id,name\n1,Espresso cup\n' },
      },
    },
  })
  @ApiResponse({ status: 400, description: 'Bad list query' })
  @ApiResponse({ status: 404, description: 'Unknown resource' })
  async exportCsv(
    @Param('file') file: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    const path = file.replace(/\.csv$/, '');
    const definition = this.schema.definition(path);
    if (!definition || !file.endsWith('.csv') || !definition.actions.has('list')) {
      throw notFound(`There is no resource to export at ${file}.`);
    }
    if (!can(principal, `${path}.view`) && !definition.owner) {
      throw forbidden(`Exporting needs the ${path}.view permission.`);
    }
    const service = this.schema.serviceOf(definition);
    const raw = { ...((request.query ?? {}) as Record<string, unknown>) };
    delete raw.page; // the export walks every page itself, by cursor
    const first = parseListQuery({ ...raw, limit: String(EXPORT_PAGE) }, definition.query); // 400s now, not mid-stream
    const columns = first.fields ?? definition.readable.map((field) => field.name);
    // Staff open these files in spreadsheet programs: text that could run as a formula is made inert.
    const types = new Map([...definition.fields.values()].map((field) => [field.name, field.type] as const));
    const csv = stringify(spreadsheetCsvOptions(columns, types));
    const date = new Date().toISOString().slice(0, 10);
    void reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${path}-${date}.csv"`)
      .header('cache-control', 'no-store');
    await reply.send(Readable.from(exportRows(service, first, raw, definition, principal)).pipe(csv));
  }

  @Get('dashboard')
  @ApiOperation({
    operationId: 'admin.dashboard',
    summary: 'Counts per resource, recent changes, job queues',
    description:
      "The admin's home page: row counts of the resources you may list, the latest changes, jobs by state.",
  })
  @ApiOkResponse({ type: AdminDashboardDto })
  async dashboard(@CurrentPrincipal() principal: Principal): Promise<{
    counts: Record<string, number>;
    recent: unknown[];
    jobs: { failed: number; waiting: number; active: number; delayed: number };
  }> {
    const counts: Record<string, number> = {};
    for (const resource of this.schema.schemaFor(principal).resources) {
      const definition = this.schema.definition(resource.path)!;
      if (!definition.actions.has('list')) {
        continue;
      }
      // The raw query with the parsed one: the resource cache keys a page by it (a `{}` here once filed this
      // one-row page under the key of a plain `GET /api/<path>`).
      const raw = { limit: '1' };
      const page = await this.schema
        .serviceOf(definition)
        .list(
          parseListQuery(raw, definition.query),
          { path: `/api/${resource.path}`, query: raw },
          principal,
        );
      counts[resource.path] = page.meta.total ?? 0;
    }
    // Only changes to resources this user may view (all for superusers), as in the audit log itself.
    const visible = visibleAuditResources(this.registry, principal);
    const recent = await this.dataSource.query<unknown[]>(
      `SELECT id::text AS id, at, "actorId", "actorEmail", via, resource, "recordId", operation, "actionName", changes
         FROM audit_entry WHERE ($1::text[] IS NULL OR resource = ANY($1)) ORDER BY at DESC, id DESC LIMIT 10`,
      [visible ?? null],
    );
    const jobs = { failed: 0, waiting: 0, active: 0, delayed: 0 };
    for (const job of this.jobRegistry.all()) {
      const c = await this.jobsInspector.counts(job.name).catch(() => undefined);
      if (c) {
        jobs.failed += c.failed;
        jobs.waiting += c.waiting + c.prioritized;
        jobs.active += c.active;
        jobs.delayed += c.delayed;
      }
    }
    return { counts, recent, jobs };
  }
}
