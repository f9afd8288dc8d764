import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { CliError, failureReport, ui } from 'src/framework/cli/context';
import { packageRoot } from 'src/framework/package-root';

/** The new project's files, shipped with the package: `<path>.tmpl`, a leading `dot-` standing for `.`. */
export const TEMPLATES_DIR = join(packageRoot(), 'templates', 'new');

/** An npm package name a folder name can become (lowercase, no spaces or leading dot/underscore). */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/;

interface FrameworkManifest {
  name: string;
  version: string;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** `dot-ci/run.tmpl` → `.ci/run`. npm leaves dot-files such as .gitignore out of a tarball: hence the names. */
export function targetPath(templatePath: string): string {
  return templatePath
    .split('/')
    .map((part) => part.replace(/^dot-/, '.'))
    .join('/')
    .replace(/\.tmpl$/, '');
}

/**
 * Fills `{{name}}`, `{{nestorVersion}}`, `{{nodeEngines}}` and `{{version:<package>}}` (the range the
 * framework itself uses, so an app installs what Nestor was tested with). An unknown placeholder is a bug
 * in a template: refused rather than written.
 */
export function fillTemplate(text: string, name: string, manifest: FrameworkManifest): string {
  const versions = { ...manifest.devDependencies, ...manifest.dependencies };
  return text.replace(/\{\{([\w:@/.-]+)\}\}/g, (_, key: string) => {
    if (key === 'name') {
      return name;
    }
    if (key === 'nestorVersion') {
      return `^${manifest.version}`;
    }
    if (key === 'nodeEngines') {
      return manifest.engines.node;
    }
    const version = key.startsWith('version:') ? versions[key.slice('version:'.length)] : undefined;
    if (version === undefined) {
      throw new CliError(`NST-N003 Template placeholder {{${key}}} is unknown (a bug in Nestor's templates)`);
    }
    return version;
  });
}

function templateFiles(dir = TEMPLATES_DIR): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.tmpl'))
    .map((entry) => relative(TEMPLATES_DIR, join(entry.parentPath, entry.name)).replace(/\\/g, '/'))
    .sort();
}

/**
 * Creates a Nestor project in `directory` (which must not exist or be empty), like Django's
 * `startproject`. Returns the files written, relative to it.
 * Example: `createProject('shop')` → `['.ci/run', '.gitignore', 'README.md', …]`.
 */
export function createProject(directory: string): string[] {
  const root = resolve(directory);
  const name = basename(root);
  if (!PACKAGE_NAME.test(name)) {
    throw new CliError(
      `NST-N002 "${name}" cannot name an npm package: use lowercase letters, digits, "-", "_" or "." (e.g. my-shop)`,
    );
  }
  if (existsSync(root) && readdirSync(root).length > 0) {
    throw new CliError(`NST-N001 ${directory} exists and is not empty: choose a new folder`);
  }
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as FrameworkManifest;
  const written: string[] = [];
  for (const template of templateFiles()) {
    const path = targetPath(template);
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, fillTemplate(readFileSync(join(TEMPLATES_DIR, template), 'utf8'), name, manifest));
    if (path.startsWith('.ci/')) {
      chmodSync(file, 0o755);
    }
    written.push(path);
  }
  return written.sort();
}

/** `nestor new <directory>`: the one command that needs no project around it. */
export function runNewCommand(args: string[]): void {
  const program = new Command('nestor new')
    .description('Create a Nestor project: an app with one example resource, its test and its migration')
    .argument('<directory>', 'the folder to create; its name becomes the package name')
    .showHelpAfterError()
    .exitOverride((error) => process.exit(error.exitCode === 1 ? 2 : error.exitCode))
    .action((directory: string) => {
      const files = createProject(directory);
      ui.out(`Created ${directory} (${files.length} files). Next:`);
      ui.out(`  cd ${directory}`);
      ui.out('  npm install');
      ui.out('  npm start    # http://127.0.0.1:3000 on the embedded database');
      ui.out('  npm test     # needs PostgreSQL on 127.0.0.1:5432 (TEST_DATABASE_URL)');
    });
  try {
    program.parse(args, { from: 'user' });
  } catch (error) {
    process.stderr.write(failureReport(error));
    process.exit(error instanceof CliError ? error.exitCode : 1);
  }
}
