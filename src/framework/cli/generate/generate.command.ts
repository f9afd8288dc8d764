import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { RootModuleFactory } from 'src/framework/bootstrap';
import { packageRoot } from 'src/framework/package-root';
import { CliError, ui } from 'src/framework/cli/context';
import { planAdminAction } from 'src/framework/cli/generate/action';
import { FIELDS_HELP, parseFields } from 'src/framework/cli/generate/field-spec';
import {
  JobModel,
  jobModuleTemplate,
  jobSpecTemplate,
  jobTemplate,
} from 'src/framework/cli/generate/job.templates';
import { RESERVED_WORDS, kebabCase, pascalCase, resourceNames } from 'src/framework/cli/generate/names';
import {
  PlannedFile,
  appFiles,
  appendToAppModules,
  classExists,
  findEntities,
  formatSource,
  refuseExisting,
  reportFiles,
  reportNext,
  writeAll,
} from 'src/framework/cli/generate/project';
import { resourceFiles, resourceModel } from 'src/framework/cli/generate/resource.model';
import { e2eSpecTemplate, unitSpecTemplate } from 'src/framework/cli/generate/resource-spec.templates';
import {
  entityTemplate,
  moduleTemplate,
  resourceTemplate,
} from 'src/framework/cli/generate/resource.templates';

/** The project the generators write into: the current directory, like every other `nestor` command. */
const projectRoot = (): string => process.cwd();

/** Every file through Prettier with the project's config, so what is written passes lint and `prettier --check`. */
async function formatted(root: string, files: PlannedFile[]): Promise<PlannedFile[]> {
  return Promise.all(
    files.map(async (f) => ({ ...f, content: await formatSource(root, f.path, f.content) })),
  );
}

function checkClassName(name: string, what: string): string {
  const pascal = pascalCase(name);
  if (
    !/^[A-Za-z][A-Za-z0-9_-]*$/.test(name) ||
    !/^[A-Z][A-Za-z0-9]*$/.test(pascal) ||
    RESERVED_WORDS.has(name)
  ) {
    throw new CliError(`NST-G001 ${what} name "${name}" must be a word or words, e.g. Coupon or GiftCard`);
  }
  return pascal;
}

function refuseExistingClass(root: string, className: string): void {
  const file = classExists(root, className);
  if (file) {
    throw new CliError(`NST-G012 A class ${className} already exists (${file}); pick another name`);
  }
}

interface ResourceCommandOptions {
  fields?: string[];
  softDelete?: boolean;
  migration: boolean;
}

async function generateResource(name: string, options: ResourceCommandOptions): Promise<void> {
  const root = projectRoot();
  const entity = checkClassName(name, 'Resource');
  const names = resourceNames(entity);
  const paths = resourceFiles(names);
  refuseExisting(root, [paths.entity, paths.resource, paths.module, paths.unitSpec, paths.e2eSpec]);
  const entities = findEntities(root);
  const defs = parseFields((options.fields ?? []).join(' '), { entity, entities });
  const model = resourceModel(names, defs, entities, options.softDelete ?? false);
  if (entities.has(entity)) {
    throw new CliError(
      `NST-G012 An entity class ${entity} already exists (${entities.get(entity)!.importPath}.ts)`,
    );
  }
  for (const className of [`${entity}Resource`, model.moduleName]) {
    refuseExistingClass(root, className);
  }
  const files = await formatted(root, [
    { path: paths.entity, content: entityTemplate(model) },
    { path: paths.resource, content: resourceTemplate(model) },
    { path: paths.module, content: moduleTemplate(model) },
    { path: paths.unitSpec, content: unitSpecTemplate(model) },
    { path: paths.e2eSpec, content: e2eSpecTemplate(model) },
    await appendToAppModules(root, model.moduleName, paths.module.replace(/\.ts$/, '')),
  ]);
  writeAll(root, files);
  reportFiles(files);

  const next: string[] = [];
  if (options.migration) {
    // Listed after the files: if this step fails, the user knows what is already there.
    reportFiles([{ path: makeMigration(root, `Create${entity}`), content: '' }]);
    next.push('nestor migrate                 apply the migration to your database');
  } else {
    next.push(`nestor makemigrations Create${entity}   write the migration (skipped: --no-migration)`);
    next.push('nestor migrate');
  }
  next.push(
    `npx jest ${paths.unitSpec} ${paths.e2eSpec}`,
    `npm start → /api/${names.plural}, /docs and /admin (needs the ${names.plural}.* permissions or a superuser)`,
    ...snapshotHint(root, 'OpenAPI/admin snapshots'),
  );
  reportNext(next);
}

/**
 * Runs `nestor makemigrations <name>` as a child process: the bin rebuilds dist/ with the new entity first.
 * Returns the written file, relative to the root.
 */
function makeMigration(root: string, name: string): string {
  ui.out(`Writing the migration: nestor makemigrations ${name}…`);
  // The framework's own bin (this repository's scripts/, or node_modules/nestor/scripts/ in an app).
  const bin = join(packageRoot(), 'scripts', 'nestor.mjs');
  const result = spawnSync(process.execPath, [bin, 'makemigrations', name], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const written = /Wrote (.+\.ts)/.exec(result.stdout ?? '')?.[1]?.trim();
  if (result.status !== 0 || !written) {
    throw new CliError(
      `NST-G013 The files were written, but \`nestor makemigrations ${name}\` failed (exit ${result.status}): ${(result.stdout ?? '').trim()}\n` +
        `Fix the cause, then run \`nestor makemigrations ${name}\` yourself.`,
    );
  }
  const path = written.startsWith(root) ? written.slice(root.length + 1) : written;
  warnAboutOtherChanges(readFileSync(join(root, path), 'utf8'), name, path);
  return path;
}

/**
 * The migration holds every difference between the entities and the committed migrations: earlier
 * un-migrated changes land in it too. Said out loud rather than split, so the user reviews the file.
 */
function warnAboutOtherChanges(source: string, name: string, path: string): void {
  const up = source.split(/public async down/)[0];
  const tables = new Set(
    [...up.matchAll(/(?:CREATE TABLE|ALTER TABLE|DROP TABLE) "([^"]+)"/g)].map(([, table]) => table),
  );
  const created = new Set([...up.matchAll(/CREATE TABLE "([^"]+)"/g)].map(([, table]) => table));
  const others = [...tables].filter((t) => !created.has(t));
  if (others.length > 0) {
    ui.warn(
      `The migration ${name} also changes ${others.join(', ')}: entity changes that had no migration yet. Review ${path}.`,
    );
  }
}

/** `reports.cleanup` → folder `src/app/reports`, files `reports-cleanup.job.ts`…; `send-newsletter` → `src/app/jobs`. */
function jobModel(jobName: string): JobModel {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*(\.[a-z][a-z0-9]*(-[a-z0-9]+)*)*$/.test(jobName)) {
    throw new CliError(
      `NST-G001 Job name "${jobName}" must be lowercase words joined by - and grouped by dots, e.g. reports.cleanup or send-newsletter`,
    );
  }
  const parts = jobName.split('.');
  const group = parts.length > 1 ? parts[0] : 'jobs';
  const file = kebabCase(jobName.replace(/\./g, '-'));
  const pascal = pascalCase(file);
  return { jobName, pascal, folder: `src/app/${group}`, file, moduleName: `${pascal}JobModule` };
}

async function generateJob(jobName: string): Promise<void> {
  const root = projectRoot();
  const model = jobModel(jobName);
  const base = `${model.folder}/${model.file}`;
  refuseExisting(root, [`${base}.job.ts`, `${base}-job.module.ts`, `${base}.job.spec.ts`]);
  for (const className of [`${model.pascal}Job`, `${model.pascal}Payload`, model.moduleName]) {
    refuseExistingClass(root, className);
  }
  const taken = findJobName(root, jobName);
  if (taken) {
    throw new CliError(`NST-G012 A job named "${jobName}" is already declared (${taken})`);
  }
  const files = await formatted(root, [
    { path: `${base}.job.ts`, content: jobTemplate(model) },
    { path: `${base}-job.module.ts`, content: jobModuleTemplate(model) },
    { path: `${base}.job.spec.ts`, content: jobSpecTemplate(model) },
    await appendToAppModules(root, model.moduleName, `${base}-job.module`),
  ]);
  writeAll(root, files);
  reportFiles(files);
  reportNext([
    `Give ${model.pascal}Payload the job's properties and write ${model.pascal}Job.run.`,
    `Enqueue it: \`await jobs.enqueue('${jobName}', { id }, {}, manager)\` (inject JobsService).`,
    `npx jest ${base}.job.spec.ts`,
    'npm run worker                 runs it (or the API process in development mode)',
  ]);
}

/** A `@Job('<name>'` already in src/app. */
function findJobName(root: string, jobName: string): string | undefined {
  const pattern = new RegExp(`@Job\\(\\s*['"\`]${jobName.replace(/\./g, '\\.')}['"\`]`);
  return appFiles(root, '.ts').find((path) => pattern.test(readFileSync(join(root, path), 'utf8')));
}

async function generateAction(resource: string, action: string): Promise<void> {
  const root = projectRoot();
  const plan = await planAdminAction(root, resource, action);
  const [file] = await formatted(root, [plan.file]);
  writeAll(root, [file]);
  reportFiles([file]);
  reportNext([
    `Write ${plan.resource}.${plan.method}: its work goes through the context's \`manager\`.`,
    `It is offered on the admin's ${plan.routePath} list for callers with ${plan.routePath}.change`,
    `(or set \`permission\`); run it over HTTP with POST /admin/api/actions/${plan.routePath}/${plan.action} { "ids": [...] }.`,
    ...snapshotHint(root, 'admin schema snapshot'),
  ]);
}

/** The snapshot hint, for projects that keep snapshots (an `openapi:update` script); a new project has none. */
function snapshotHint(root: string, what: string): string[] {
  const { scripts = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  return 'openapi:update' in scripts
    ? [`npm run openapi:update         when the committed ${what} should include it`]
    : [];
}

/**
 * `nestor generate resource|job|action`: scaffolds new files (never overwriting one) and appends the new
 * module to `APP_MODULES` in src/app/modules.ts. Example: `nestor generate resource Coupon --fields "code:string!"`.
 */
export function registerGenerateCommands(program: Command, _rootModule: RootModuleFactory): void {
  const generate = program
    .command('generate')
    .alias('g')
    .description('Scaffold a resource, a job or an admin action (never overwrites a file)');

  generate
    .command('resource')
    .description(
      'An entity, its REST resource (/api/<plural>), docs and admin page, a module wired into src/app/modules.ts, a unit spec, an e2e spec and the migration',
    )
    .argument('<Name>', 'the entity, singular PascalCase, e.g. Coupon or GiftCard')
    .requiredOption('--fields <spec...>', 'the fields, e.g. "code:string! percent:int" (see below)')
    .option('--soft-delete', 'add a deletedAt column: DELETE hides rows, POST /:id/restore brings them back')
    .option('--no-migration', 'skip `nestor makemigrations Create<Name>`')
    .addHelpText(
      'after',
      `\n${FIELDS_HELP}\n\nExample:\n  nestor generate resource Gadget --fields "name:string price:decimal stock:int status:enum(draft,active) category:belongsTo(Category) tags:manyToMany(Tag)"\n\nEvery entity gets id, createdAt and updatedAt. The resource searches its string and text fields, filters and\nsorts on its scalar fields, and needs the <plural>.view|add|change|delete permissions (not public).\nThe migration contains every entity change that has none yet: review it.`,
    )
    .action((name: string, options: ResourceCommandOptions) => generateResource(name, options));

  generate
    .command('job')
    .description(
      'A @Job handler with a validated payload class, a module wired into src/app/modules.ts and a unit spec',
    )
    .argument(
      '<name>',
      'the job name: words joined by - and grouped by dots, e.g. reports.cleanup or send-newsletter',
    )
    .addHelpText(
      'after',
      '\n`reports.cleanup` writes src/app/reports/reports-cleanup.job.ts (+ -job.module.ts, .job.spec.ts);\na name without a dot goes to src/app/jobs/.',
    )
    .action((name: string) => generateJob(name));

  generate
    .command('action')
    .description(
      'Add an @AdminAction method to an existing @Resource class (the one generator that edits a file)',
    )
    .argument('<resource>', 'the entity or resource class, e.g. Product or ProductResource')
    .argument('<name>', 'the action, e.g. feature or mark-shipped')
    .action((resource: string, name: string) => generateAction(resource, name));
}
