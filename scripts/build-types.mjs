#!/usr/bin/env node
// The package's typings (`npm pack` runs this after the build): `.d.ts` files for src/framework, emitted by
// tsc beside the compiled framework in dist/. The framework's own imports are absolute (`src/framework/…`,
// tsconfig "paths"), which tsc leaves as written in declarations; an app that installed the package has no
// such path, so each one becomes relative to the file, as swc already does for the JavaScript.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.package.json')], {
  stdio: 'inherit',
});
if (result.status !== 0) {
  process.exit(result.status ?? 1);
}

const typings = join(root, 'dist', 'src', 'framework');
// `from 'src/x'`, `import('src/x')` and `import 'src/x'`.
const SPECIFIER = /((?:from|import)\s*\(?\s*)(['"])src\/([^'"]+)\2/g;
for (const entry of readdirSync(typings, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) {
    continue;
  }
  const file = join(entry.parentPath, entry.name);
  const source = readFileSync(file, 'utf8');
  const rewritten = source.replace(SPECIFIER, (_, lead, quote, path) => {
    const target = relative(dirname(file), join(root, 'dist', 'src', path)).replace(/\\/g, '/');
    return `${lead}${quote}${target.startsWith('.') ? target : `./${target}`}${quote}`;
  });
  if (rewritten !== source) {
    writeFileSync(file, rewritten);
  }
}
