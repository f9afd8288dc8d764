import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type * as TS from 'typescript';
import { CliError, ui } from 'src/framework/cli/context';
import type { EntityRef } from 'src/framework/cli/generate/field-spec';

/** Where a project keeps things, relative to its root (the current directory). */
export const APP_DIR = join('src', 'app');
export const MODULES_FILE = join('src', 'app', 'modules.ts');

/** A file the generator writes: created (refused when it exists) or an existing file changed. */
export interface PlannedFile {
  /** Relative to the project root, e.g. `src/app/coupons/coupon.entity.ts`. */
  path: string;
  content: string;
  change?: boolean;
}

/**
 * The TypeScript compiler and Prettier are dev dependencies: loaded only when a generator runs, so the CLI
 * still starts where they are not installed.
 */
export async function loadTypeScript(): Promise<typeof TS> {
  try {
    return await import('typescript');
  } catch {
    throw new CliError('NST-G016 `nestor generate` needs the dev dependency "typescript": run `npm install`');
  }
}

/** Formats with the project's Prettier config, so generated files pass `prettier --check` and lint. */
export async function formatSource(root: string, path: string, source: string): Promise<string> {
  let prettier: typeof import('prettier');
  try {
    prettier = await import('prettier');
  } catch {
    throw new CliError('NST-G016 `nestor generate` needs the dev dependency "prettier": run `npm install`');
  }
  const file = join(root, path);
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(source, { ...options, filepath: file });
}

function walk(directory: string, found: string[] = []): string[] {
  if (!existsSync(directory)) {
    return found;
  }
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      walk(path, found);
    } else if (entry.isFile()) {
      found.push(path);
    }
  }
  return found;
}

/** Files under `src/app` whose name ends with `suffix`, relative to the root, sorted. */
export function appFiles(root: string, suffix: string): string[] {
  return walk(join(root, APP_DIR))
    .filter((path) => path.endsWith(suffix))
    .map((path) => relative(root, path))
    .sort();
}

/** `src/app/catalog/tag.entity.ts` → `src/app/catalog/tag.entity`: the absolute import path. */
export function importPathOf(path: string): string {
  return path.replace(/\\/g, '/').replace(/\.ts$/, '');
}

/**
 * The entity classes a relation may target: every `export class X` of `src/app/**\/*.entity.ts`, and the
 * framework's User (for `owner:belongsTo(User)`).
 */
export function findEntities(root: string): Map<string, EntityRef> {
  const entities = new Map<string, EntityRef>();
  const files = [...appFiles(root, '.entity.ts')];
  for (const path of files) {
    const source = readFileSync(join(root, path), 'utf8');
    const idType = /@PrimaryGeneratedColumn\(\s*['"]uuid['"]/.test(source) ? 'uuid' : 'int';
    for (const [, name] of source.matchAll(/^export class (\w+)/gm)) {
      if (!entities.has(name)) {
        entities.set(name, { name, importPath: importPathOf(path), idType });
      }
    }
  }
  if (!entities.has('User')) {
    // The framework's account table, imported like the rest of the framework (its key: an int identity).
    entities.set('User', { name: 'User', importPath: 'nestor', idType: 'int' });
  }
  return entities;
}

/** Whether any `src/app` file already exports a class with this name. */
export function classExists(root: string, name: string): string | undefined {
  const pattern = new RegExp(`^export (abstract )?class ${name}\\b`, 'm');
  return appFiles(root, '.ts').find((path) => pattern.test(readFileSync(join(root, path), 'utf8')));
}

/**
 * Adds `import { X } from '…'` and `X` to `export const APP_MODULES = [...]` in `src/app/modules.ts`: the one
 * list that exists for generators to append to. Any other shape is refused (NST-G011), never guessed at.
 */
export async function appendToAppModules(
  root: string,
  moduleName: string,
  importPath: string,
): Promise<PlannedFile> {
  const file = join(root, MODULES_FILE);
  const manual = `add \`import { ${moduleName} } from '${importPath}';\` and ${moduleName} to your root module's imports`;
  if (!existsSync(file)) {
    throw new CliError(
      `NST-G011 ${MODULES_FILE} does not exist: create it with \`export const APP_MODULES = [];\`, or ${manual}`,
    );
  }
  const ts = await loadTypeScript();
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  let list: TS.ArrayLiteralExpression | undefined;
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) {
      continue;
    }
    for (const declaration of statement.declarationList.declarations) {
      if (ts.isIdentifier(declaration.name) && declaration.name.text === 'APP_MODULES') {
        const init = declaration.initializer;
        list = init && ts.isArrayLiteralExpression(init) ? init : undefined;
        if (!list) {
          throw new CliError(
            `NST-G011 ${MODULES_FILE}: APP_MODULES is not an array literal ([A, B]); ${manual}, or make it one`,
          );
        }
      }
    }
  }
  if (!list) {
    throw new CliError(`NST-G011 ${MODULES_FILE} has no \`export const APP_MODULES = [...]\`; ${manual}`);
  }
  if (list.elements.some((e) => ts.isIdentifier(e) && e.text === moduleName)) {
    throw new CliError(`NST-G011 ${MODULES_FILE}: APP_MODULES already lists ${moduleName}`);
  }
  const importAt = importPosition(ts, source, importPath);
  const elements = list.elements;
  const elementAt = elements.length > 0 ? elements[elements.length - 1].getEnd() : list.elements.pos;
  const element = elements.length > 0 ? `, ${moduleName}` : moduleName;
  // Apply the later edit first so the earlier offset stays valid.
  let next = text.slice(0, elementAt) + element + text.slice(elementAt);
  next = `${next.slice(0, importAt)}import { ${moduleName} } from '${importPath}';\n${next.slice(importAt)}`;
  return { path: MODULES_FILE, content: next, change: true }; // formatted with the other files
}

/**
 * Where a new `import … from '<specifier>';` line goes: in path order when the imports are sorted (as the
 * project's are), otherwise after the last import. The offset is the start of a line.
 */
export function importPosition(ts: typeof TS, source: TS.SourceFile, specifier: string): number {
  const imports = source.statements.filter(ts.isImportDeclaration);
  const specifiers = imports.map((i) => (i.moduleSpecifier as TS.StringLiteral).text);
  const sorted = specifiers.every((s, i) => i === 0 || specifiers[i - 1] <= s);
  const before = sorted
    ? imports.find((i) => (i.moduleSpecifier as TS.StringLiteral).text > specifier)
    : undefined;
  if (before) {
    return before.getStart(source);
  }
  if (imports.length === 0) {
    return 0;
  }
  const end = imports[imports.length - 1].getEnd();
  const newline = source.text.indexOf('\n', end);
  return newline === -1 ? source.text.length : newline + 1;
}

/** The planned files that exist already: a generator refuses to run when any does (NST-G010). */
export function refuseExisting(root: string, paths: string[]): void {
  const existing = paths.filter((path) => existsSync(join(root, path)));
  if (existing.length > 0) {
    throw new CliError(
      `NST-G010 Refusing to overwrite ${existing.join(', ')}: nothing was written. Move or delete ${existing.length > 1 ? 'them' : 'it'} first.`,
    );
  }
}

/**
 * Writes every planned file, or none: each new file is checked first, and any that exists refuses the
 * whole run (NST-G010), so a generator never overwrites anyone's code.
 */
export function writeAll(root: string, files: PlannedFile[]): void {
  refuseExisting(
    root,
    files.filter((f) => !f.change).map((f) => f.path),
  );
  for (const file of files) {
    mkdirSync(dirname(join(root, file.path)), { recursive: true });
    writeFileSync(join(root, file.path), file.content);
  }
}

/** Prints what a generator wrote: `created  src/app/…` / `changed  src/app/modules.ts`. */
export function reportFiles(files: PlannedFile[]): void {
  for (const file of files) {
    ui.ok(`${file.change ? 'changed' : 'created'}  ${file.path.replace(/\\/g, '/')}`);
  }
}

/** Prints the next steps after a generator ran. */
export function reportNext(next: string[]): void {
  ui.out();
  ui.out(ui.colors.bold('Next:'));
  next.forEach((line) => ui.out(`  ${line}`));
}
