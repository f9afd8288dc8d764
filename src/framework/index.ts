/**
 * `nestor`: the entry point of the framework for apps. An app imports from here (its tests from
 * `nestor/testing`, its `src/cli.ts` and seeders from `nestor/cli`), never from a framework file: what is not
 * exported here may change without notice.
 * The list, with an example for each, is docs/public-api.md.
 * Example: `import { NestorModule, Resource, ResourceModule, serveHttp } from 'nestor';`
 */

// First, before the rest of the framework loads: the compile cache (kept code of every module loaded after it)
// and the decorator metadata polyfill. An entry point imports `nestor` before its own modules.
import 'src/framework/compile-cache';
import 'reflect-metadata';

// Boot: the entry points (src/main.ts, src/worker.ts, src/cli.ts) and the root module.
export { serveHttp, runWorker, type RootModuleFactory } from 'src/framework/bootstrap';
export { NestorModule, type NestorModuleOptions } from 'src/framework/nestor.module';
export { type Migrations } from 'src/framework/database/data-source-options';
export {
  NestorConfig,
  type JobBackendName,
  type LogLevel,
  type NodeEnv,
} from 'src/framework/config/nestor-config';
export { loadConfig, type LoadConfigOptions, type LoadedConfig } from 'src/framework/config/load-config';

// Resources: an entity's REST routes, OpenAPI docs and admin page.
export {
  Resource,
  resourceDeclaration,
  type HookContext,
  type ResourceAction,
  type ResourceAdminInline,
  type ResourceAdminOptions,
  type ResourceDeclaration,
  type ResourceHooks,
  type ResourceOptions,
  type ResourceRow,
  type FieldRepresentation,
  type ResourceVersionOptions,
} from 'src/framework/resource/resource.decorator';
export {
  InjectResourceService,
  ResourceModule,
  type ResourceFeatureOptions,
} from 'src/framework/resource/resource.module';
export { ResourceService, type ListRequest, type ListResult } from 'src/framework/resource/resource.service';
export { asMoney } from 'src/framework/resource/resource-versions';
export { ResourceCache } from 'src/framework/resource/resource-cache';
export { ApiVersion, type ApiVersionOptions } from 'src/framework/resource/api-version.decorator';
export {
  AdminAction,
  type AdminActionContext,
  type AdminActionOptions,
} from 'src/framework/resource/admin-action.decorator';
export { DecimalMax, DecimalMin, IsSlug } from 'src/framework/fields/field.decorators';

// GraphQL: the endpoint built from the resources, and what custom resolvers reuse.
export {
  ResourceGraphqlSchema,
  resourceObjectType,
  type GraphqlContext,
} from 'src/framework/graphql/resource-schema.service';
export type { ResourceTypes } from 'src/framework/graphql/resource-types';

// Auth: who may call what.
export {
  Authenticated,
  CurrentPrincipal,
  Public,
  RequirePermission,
} from 'src/framework/access/auth.decorators';
export { can, type Principal } from 'src/framework/access/principal';
export { User } from 'src/framework/auth/user.entity';
export { hashPassword, verifyPassword } from 'src/framework/auth/passwords';
export { AuditService, type AuditRecord } from 'src/framework/audit/audit.service';

// HTTP: errors as problem+json, idempotent retries, route docs.
export {
  PROBLEM_TYPES,
  ProblemException,
  type Problem,
  type ProblemFieldError,
  type ProblemInit,
} from 'src/framework/http/problem';
export { validationProblem } from 'src/framework/http/validation';
export { Idempotent } from 'src/framework/idempotency/idempotent.decorator';
export { ApiIdParam, ApiInvalidBody, ApiPathParam, INT32_MAX } from 'src/framework/openapi/route-docs';

// Jobs and mail.
export {
  JOB_METADATA,
  Job,
  type JobContext,
  type JobDeclaration,
  type JobOptions,
} from 'src/framework/jobs/job.decorator';
export { JobsService, type EnqueueOptions } from 'src/framework/jobs/jobs.service';
export { MailService, type MailMessage, type SendOptions } from 'src/framework/mail/mail.service';
export { html, htmlDocument, type RenderedMail, type SafeHtml } from 'src/framework/mail/templates';
