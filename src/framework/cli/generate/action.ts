import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TS from 'typescript';
import { CliError } from 'src/framework/cli/context';
import { PlannedFile, appFiles, importPosition, loadTypeScript } from 'src/framework/cli/generate/project';
import { camelCase, kebabCase, words } from 'src/framework/cli/generate/names';
import { defaultResourcePath } from 'src/framework/resource/resource.decorator';

/** Where an app imports the framework from: its public entry point. */
const ADMIN_ACTION_MODULE = 'nestor';

/** A `@Resource(Entity)` class found in a resource file. */
interface FoundResource {
  path: string;
  text: string;
  source: TS.SourceFile;
  node: TS.ClassDeclaration;
  className: string;
  entity: string;
  /** The `path` option when the declaration gives one as a string literal. */
  routePath?: string;
}

function decoratorsOf(ts: typeof TS, node: TS.Node): readonly TS.Decorator[] {
  return ts.canHaveDecorators(node) ? (ts.getDecorators(node) ?? []) : [];
}

/** Every `@Resource(X, …)` class of `src/app/**\/*.resource.ts`. */
function findResources(ts: typeof TS, root: string): FoundResource[] {
  const found: FoundResource[] = [];
  for (const path of appFiles(root, '.resource.ts')) {
    const text = readFileSync(join(root, path), 'utf8');
    const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    for (const node of source.statements) {
      if (!ts.isClassDeclaration(node) || !node.name) {
        continue;
      }
      for (const decorator of decoratorsOf(ts, node)) {
        const call = decorator.expression;
        if (
          ts.isCallExpression(call) &&
          ts.isIdentifier(call.expression) &&
          call.expression.text === 'Resource' &&
          call.arguments.length > 0 &&
          ts.isIdentifier(call.arguments[0])
        ) {
          const options = call.arguments[1];
          let routePath: string | undefined;
          if (options && ts.isObjectLiteralExpression(options)) {
            const option = options.properties.find(
              (p) => ts.isPropertyAssignment(p) && p.name.getText(source) === 'path',
            ) as TS.PropertyAssignment | undefined;
            routePath =
              option && ts.isStringLiteral(option.initializer) ? option.initializer.text : undefined;
          }
          found.push({
            path,
            text,
            source,
            node,
            className: node.name.text,
            entity: call.arguments[0].text,
            routePath,
          });
        }
      }
    }
  }
  return found;
}

export interface ActionPlan {
  file: PlannedFile;
  resource: string;
  entity: string;
  method: string;
  action: string;
  routePath: string;
}

/** The one resource class `resourceName` (entity or class name) names; NST-G014 when none or several. */
function findResource(ts: typeof TS, root: string, resourceName: string): FoundResource {
  const resources = findResources(ts, root);
  const matches = resources.filter((r) => r.entity === resourceName || r.className === resourceName);
  if (matches.length !== 1) {
    const known =
      resources
        .map((r) => r.entity)
        .sort()
        .join(', ') || 'none';
    throw new CliError(
      matches.length === 0
        ? `NST-G014 No @Resource(${resourceName}) class in src/app/**/*.resource.ts (resources: ${known})`
        : `NST-G014 "${resourceName}" names several resource classes (${matches.map((m) => m.path).join(', ')}): give the class name`,
    );
  }
  return matches[0];
}

/** NST-G015 when the class already has a member `method` or declares the admin action `action`. */
function assertFree(ts: typeof TS, resource: FoundResource, method: string, action: string): void {
  const { node, source } = resource;
  const taken = node.members.find((m) => m.name && m.name.getText(source) === method);
  if (taken) {
    throw new CliError(
      `NST-G015 ${resource.className} already has a member "${method}" (${resource.path}); pick another name`,
    );
  }
  for (const member of node.members) {
    for (const decorator of decoratorsOf(ts, member)) {
      const call = decorator.expression;
      if (
        ts.isCallExpression(call) &&
        call.expression.getText(source) === 'AdminAction' &&
        call.arguments[0] &&
        ts.isStringLiteral(call.arguments[0]) &&
        call.arguments[0].text === action
      ) {
        throw new CliError(`NST-G015 ${resource.className} already declares the admin action "${action}"`);
      }
    }
  }
}

/** The `@AdminAction` method's source, inserted as is before the class's closing brace. */
function actionMethodSource(actionName: string, action: string, method: string, routePath: string): string {
  const plural = routePath.replace(/-/g, ' ');
  const verb = words(actionName)
    .join(' ')
    .replace(/^./, (c) => c.toUpperCase());
  return `
  /** Admin action "${action}": runs on the selected ${plural} in one transaction; each gets an audit entry. */
  @AdminAction('${action}', { confirm: '${verb} the selected ${plural}?' })
  ${method}({ ids }: AdminActionContext): Promise<string> {
    // The work goes through the context's \`manager\`, so it commits or rolls back with the audit entries:
    // await manager.query('UPDATE … WHERE id = ANY($1)', [ids]);
    return Promise.resolve(\`\${ids.length} ${plural}: ${action} done\`);
  }
`;
}

/**
 * `text` with `AdminAction` and `AdminActionContext` imported: added to the file's import of the decorator
 * module when there is one (not type-only), else as a new import. Positions come from `source`, which must
 * match `text` up to the imports.
 */
function withActionImports(ts: typeof TS, source: TS.SourceFile, text: string): string {
  const importDeclaration = source.statements.find(
    (s): s is TS.ImportDeclaration =>
      ts.isImportDeclaration(s) && (s.moduleSpecifier as TS.StringLiteral).text === ADMIN_ACTION_MODULE,
  );
  const bindings = importDeclaration?.importClause?.namedBindings;
  const imported = new Set(
    bindings && ts.isNamedImports(bindings) ? bindings.elements.map((e) => e.name.text) : [],
  );
  const missing = ['AdminAction', 'AdminActionContext'].filter((name) => !imported.has(name));
  if (missing.length === 0) {
    return text;
  }
  if (
    importDeclaration &&
    bindings &&
    ts.isNamedImports(bindings) &&
    !importDeclaration.importClause?.isTypeOnly
  ) {
    const at = bindings.elements[bindings.elements.length - 1].getEnd();
    return text.slice(0, at) + `, ${missing.join(', ')}` + text.slice(at);
  }
  const at = importPosition(ts, source, ADMIN_ACTION_MODULE);
  return `${text.slice(0, at)}import { ${missing.join(', ')} } from '${ADMIN_ACTION_MODULE}';\n${text.slice(at)}`;
}

/**
 * Adds an `@AdminAction` method to an existing resource class (found by its entity, `Product`, or class,
 * `ProductResource`): inserted before the class's closing brace, with the import added when missing. The
 * one generator that edits a user's file, since an action belongs in its resource class.
 */
export async function planAdminAction(
  root: string,
  resourceName: string,
  actionName: string,
): Promise<ActionPlan> {
  if (!/^[A-Za-z][A-Za-z0-9-_]*$/.test(actionName) || words(actionName).length === 0) {
    throw new CliError(`NST-G001 Action name "${actionName}" must be words like "feature" or "mark-shipped"`);
  }
  const action = kebabCase(actionName);
  const method = camelCase(actionName);
  const ts = await loadTypeScript();
  const resource = findResource(ts, root, resourceName);
  assertFree(ts, resource, method, action);
  const { node, source, text } = resource;
  const routePath = resource.routePath ?? defaultResourcePath(resource.entity);
  // Insert before the class's closing brace (the last character of the declaration); the imports sit above
  // the class, so their positions in `source` still hold in the longer text.
  const closing = node.getEnd() - 1;
  const withMethod =
    text.slice(0, closing).replace(/\s*$/, '\n') +
    actionMethodSource(actionName, action, method, routePath) +
    text.slice(closing);
  return {
    file: { path: resource.path, content: withActionImports(ts, source, withMethod), change: true }, // formatted by the caller
    resource: resource.className,
    entity: resource.entity,
    method,
    action,
    routePath,
  };
}
