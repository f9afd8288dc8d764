import { writeFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { Command } from 'commander';
import { RootModuleFactory } from 'src/framework/bootstrap';
import { CliError, ui, withHttpApp } from 'src/framework/cli/context';
import { ACTION_PERMISSION } from 'src/framework/auth/auth.guard';
import { postmanCollection } from 'src/framework/openapi/postman';
import { buildOpenApiDocument } from 'src/framework/openapi/openapi';
import { RouteRequirement, requirementsByOperationId } from 'src/framework/openapi/security-openapi';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

/** One route as `nestor routes` lists it. */
export interface RouteRow {
  method: string;
  path: string;
  /** `public`, `signed in`, `staff`, or the permission codename the route needs (`staff:` prefix: staff only). */
  access: string;
  operationId: string;
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Who may call a route, in the guard's own terms (src/framework/auth/auth.guard.ts). */
function describeAccess(requirement: RouteRequirement | undefined, registry: ResourceRegistry): string {
  if (requirement?.staffOnly) {
    return requirement.kind === 'permission' ? `staff: ${requirement.permission}` : 'staff';
  }
  switch (requirement?.kind) {
    case 'public':
      return 'public';
    case 'permission':
      return requirement.permission;
    case 'resource': {
      const definition = registry.byPath(requirement.path);
      const staffOnly = definition.options.staffOnly === true;
      if (!staffOnly && definition.publicActions.has(requirement.action as never)) {
        return 'public';
      }
      const permission = `${requirement.path}.${ACTION_PERMISSION[requirement.action]}`;
      return `${staffOnly ? 'staff: ' : ''}${permission}${definition.owner ? ' or owner' : ''}`;
    }
    default:
      return 'signed in';
  }
}

/** Every documented route with its method, path, access rule and operationId, in path order. */
export function listRoutes(app: INestApplication, document: OpenAPIObject): RouteRow[] {
  const requirements = requirementsByOperationId(app);
  const registry = app.get(ResourceRegistry, { strict: false });
  const rows: RouteRow[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation) {
        const operationId = operation.operationId ?? '';
        rows.push({
          method: method.toUpperCase(),
          path,
          access: describeAccess(requirements.get(operationId), registry),
          operationId,
        });
      }
    }
  }
  return rows.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** Converts an OpenAPI document into a Postman v2.1 collection (openapi-to-postmanv2, a dev dependency). */
/** The Postman collection, or a coded error when the optional converter is not installed. */
async function toPostman(document: OpenAPIObject): Promise<unknown> {
  try {
    return await postmanCollection(document);
  } catch (error) {
    const missing =
      (error as { code?: string }).code === 'MODULE_NOT_FOUND' ||
      (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    throw new CliError(
      missing
        ? 'NST-O001 --postman needs the package openapi-to-postmanv2 (npm install --save-dev openapi-to-postmanv2).'
        : `NST-O002 ${(error as Error).message}`,
    );
  }
}

/** A scratch database, and only errors logged: these commands' stdout is data (JSON, tables). */
const QUIET_SCRATCH = { scratch: true, overrides: { logLevel: 'error' as const } };

/** The API's inventory commands: `routes` and `openapi`. Both boot on a scratch database. */
export function registerApiCommands(program: Command, rootModule: RootModuleFactory): void {
  program
    .command('routes')
    .description(
      'List every route: method, path, who may call it (public, signed in, permission), operationId',
    )
    .option('--json', 'print JSON instead of a table')
    .action(async ({ json }: { json?: boolean }) => {
      const rows = await withHttpApp(
        rootModule,
        (app) => listRoutes(app, buildOpenApiDocument(app)),
        QUIET_SCRATCH,
      );
      if (json) {
        ui.out(JSON.stringify(rows, null, 2));
        return;
      }
      const width = (key: keyof RouteRow): number => Math.max(key.length, ...rows.map((r) => r[key].length));
      const [m, p, a] = [width('method'), width('path'), width('access')];
      ui.out(ui.colors.bold(`${'METHOD'.padEnd(m)}  ${'PATH'.padEnd(p)}  ${'ACCESS'.padEnd(a)}  OPERATION`));
      for (const row of rows) {
        const access = row.access === 'public' ? ui.colors.green(row.access.padEnd(a)) : row.access.padEnd(a);
        ui.out(`${row.method.padEnd(m)}  ${row.path.padEnd(p)}  ${access}  ${row.operationId}`);
      }
      ui.out(`${rows.length} routes`);
    });

  program
    .command('openapi')
    .description(
      'Write the OpenAPI 3.1 document (stdout unless --out); --postman also writes a Postman collection',
    )
    .option('--out <file>', 'write the document to this file')
    .option(
      '--postman [file]',
      'also write a Postman v2.1 collection (default nestor.postman_collection.json)',
    )
    .action(async (options: { out?: string; postman?: string | boolean }) => {
      const document = await withHttpApp(rootModule, (app) => buildOpenApiDocument(app), QUIET_SCRATCH);
      const json = `${JSON.stringify(document, null, 2)}\n`;
      if (options.out) {
        writeFileSync(options.out, json);
        ui.ok(`Wrote ${options.out} (${Object.keys(document.paths).length} paths)`);
      } else {
        process.stdout.write(json);
      }
      if (options.postman) {
        const file = typeof options.postman === 'string' ? options.postman : 'nestor.postman_collection.json';
        writeFileSync(file, `${JSON.stringify(await toPostman(document), null, 2)}\n`);
        // With the document on stdout, notes go to stderr so the JSON stays clean for pipes.
        (options.out ? ui.ok : ui.note)(`Wrote ${file} (Postman collection)`);
      }
    });
}
