import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditEntryResource } from 'src/framework/admin/audit-entry.resource';
import { GroupResource } from 'src/framework/auth/group.resource';
import { PermissionResource } from 'src/framework/auth/permission.resource';
import { UserResource } from 'src/framework/auth/user.resource';
import { describeDatabase, describeJobBackend, NestorConfig } from 'src/framework/config/nestor-config';
import { AppliedMigrations } from 'src/framework/database/database.module';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

/** The framework's own resources: a database whose only rows are theirs (a superuser, permissions) is empty. */
const FRAMEWORK_RESOURCES = new Set(
  [UserResource, GroupResource, PermissionResource, AuditEntryResource].map((type) => type.name),
);

/** The command that loads demo data, named by the banner when the app's resources hold no row. */
export const SEED_COMMAND = 'npx nestor seed';

/** What the banner says about migrations: the ones this boot applied, or why there are none. */
export function describeMigrations(config: NestorConfig, applied: string[] | undefined): string {
  if (!config.migrateOnBoot || applied === undefined) {
    return 'not applied at boot (production): run `npx nestor migrate`';
  }
  return applied.length === 0 ? 'none pending' : `applied ${applied.length}: ${applied.join(', ')}`;
}

/**
 * Whether no resource of the app (the framework's own left out) holds a row, soft-deleted ones included;
 * false when that cannot be told (tables not migrated yet).
 */
async function appDataIsEmpty(app: INestApplication): Promise<boolean> {
  const dataSource = app.get<DataSource>(getDataSourceToken());
  const resources = app
    .get(ResourceRegistry)
    .all()
    .filter((resource) => !FRAMEWORK_RESOURCES.has(resource.className));
  try {
    for (const resource of resources) {
      if (await dataSource.getRepository(resource.metadata.target).exists({ withDeleted: true })) {
        return false;
      }
    }
  } catch {
    return false;
  }
  return resources.length > 0;
}

/**
 * The URL of a listener on `host` and `port`, an IPv6 address in brackets.
 * Example: `listenerUrl('::1', 9464)` → `http://[::1]:9464`.
 */
export function listenerUrl(host: string, port: number | undefined, tls = false): string {
  return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The one block `npm start` prints once it listens: where the API, Swagger UI, GraphQL (and its IDE), admin, health and metrics
 * answer, the database (never its password), the jobs backend, the migrations this boot applied and, on an
 * empty database, the command that loads demo data.
 * Example: `logger.log(await bootBanner(app, config))`.
 */
export async function bootBanner(app: INestApplication, config: NestorConfig): Promise<string> {
  const base = listenerUrl(config.host, config.port, config.tls !== undefined);
  const docs = config.docs === 'public' ? `${base}/docs  (OpenAPI: ${base}/docs-json)` : 'off (DOCS=off)';
  const { graphql } = config;
  const graphiql = graphql.ide ? `  (GraphiQL: ${base}/graphiql)` : '';
  const lines = [
    `Nestor is listening on ${base} (${config.nodeEnv})`,
    `  API:        ${base}/api`,
    `  Swagger UI: ${docs}`,
    `  GraphQL:    ${graphql.enabled ? `${base}${graphql.path}${graphiql}` : 'off (GRAPHQL=off)'}`,
    `  Admin:      ${base}/admin/`,
    `  Health:     ${base}/health/live  ${base}/health/ready`,
    `  Metrics:    ${base}/metrics`,
    `  Database:   ${describeDatabase(config)}`,
    `  Jobs:       ${describeJobBackend(config)}`,
    `  Migrations: ${describeMigrations(config, app.get(AppliedMigrations).names)}`,
    `  Data dir:   ${config.dataDir}`,
  ];
  if (config.tls) {
    const redirect = config.httpPort ? `; port ${config.httpPort} redirects to it` : '';
    lines.push(
      `  TLS:        HTTP/2 + HTTP/1.1, TLS 1.2/1.3, ${config.tls.certFile} (SIGHUP reloads)${redirect}`,
    );
  }
  // Demo data is for development: production is never offered it.
  if (config.nodeEnv !== 'production' && (await appDataIsEmpty(app))) {
    lines.push(`  The database is empty: load demo data with \`${SEED_COMMAND}\``);
  }
  return lines.join('\n');
}
