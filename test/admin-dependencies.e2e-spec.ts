import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from 'test/support/processes';

/** Every module specifier imported (statically or with import()) by a file of the admin SPA. */
function adminImports(): Map<string, string> {
  const found = new Map<string, string>();
  const files = readdirSync(join(ROOT, 'admin/src'), { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.tsx?$/.test(file))
    .map((file) => join('admin/src', file));
  for (const file of [...files, 'admin/vite.config.ts']) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const [, specifier] of text.matchAll(
      /(?:^\s*(?:import|export)[^'"]*?\bfrom\s*|^\s*import\s*|\bimport\(\s*)'([^']+)'/gm,
    )) {
      found.set(specifier, file);
    }
  }
  return found;
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`; undefined for relative paths. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.')) {
    return undefined;
  }
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

// A package reached only because another one depends on it can vanish or change major version with that
// package's next release; what the SPA imports, package.json declares.
describe('The admin SPA declares what it imports', () => {
  it('finds every bare import in package.json', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.devDependencies),
    ]);
    const used = new Map<string, string>();
    for (const [specifier, file] of adminImports()) {
      const name = packageOf(specifier);
      if (name) {
        used.set(name, file);
      }
    }
    expect([...used.keys()]).toEqual(expect.arrayContaining(['react-admin', 'react-router-dom']));
    const undeclared = [...used]
      .filter(([name]) => !declared.has(name))
      .map(([name, file]) => `${name} (${file})`);
    expect(undeclared).toEqual([]);
  });
});
