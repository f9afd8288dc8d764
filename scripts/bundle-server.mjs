#!/usr/bin/env node
// Bundles this repository's built server and CLI (dist/src/main.js, worker.js, cli.js) into one file each
// under dist/bundle/, so a start or a `nestor` command reads and compiles one module instead of a few
// thousand (issue 23: cold start and idle memory). Apps made by `nestor new` keep the per-file build:
// build-server.mjs calls this only for this repository. `dist/bundle/launch.js <main|worker|cli> [args…]`
// turns on Node's compile cache before it loads the bundle (inside the bundle it would come too late: the
// whole file is compiled at once).
// `bundle-server.mjs [root]`, by default this repository.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { rolldown } from 'rolldown';

const root = process.argv[2] ?? join(import.meta.dirname, '..');
const outDir = join(root, 'dist', 'bundle');

/**
 * Packages the framework loads on first use: `lazyModule('…')` (kept out so they still load only then) and
 * `import('…')` (the CLI's TypeScript, Prettier and Postman converter: dev dependencies that may be absent,
 * and megabytes the bundle would otherwise hold for a command that rarely needs them).
 */
function lazyPackages() {
  const lazy = new Set();
  const imported = new Set();
  const dir = join(root, 'src');
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
      const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
      for (const [, name] of text.matchAll(/lazyModule<[^>]*>\('([^']+)'\)/g)) {
        lazy.add(name);
      }
      for (const [, name] of text.matchAll(/\bimport\('([^'./][^']*)'\)/g)) {
        if (!name.startsWith('node:') && !name.startsWith('src/')) {
          imported.add(name);
        }
      }
    }
  }
  return { lazy, imported };
}

// Native addons (a .node file cannot be bundled) and what pulls them in through a platform-specific package.
const NATIVE = ['@node-rs/argon2', '@swc/core'];

/** A package's manifest in the project's node_modules, or undefined when it is not installed. */
function manifest(name) {
  const path = join(root, 'node_modules', name, 'package.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

/**
 * The lazily loaded packages that stay out of the bundle: those that share nothing with it. One that needs a
 * package the bundle holds (@nest-lab/throttler-storage-redis: @nestjs/common) is bundled, still run on
 * first use only, so that it does not load a second copy of what it needs.
 */
function lazyExternals(lazy) {
  const { dependencies } = manifest('..');
  const bundled = (name) => Object.hasOwn(dependencies, name) && !lazy.has(name);
  return [...lazy].filter((name) => {
    const { dependencies: own, peerDependencies } = manifest(name);
    const needs = Object.keys({ ...own, ...peerDependencies });
    return !needs.some(bundled);
  });
}

function externals() {
  const { lazy, imported } = lazyPackages(); // one read of the sources
  const packages = [...lazyExternals(lazy), ...imported, ...NATIVE];
  return (id) => {
    if (id.startsWith('.') || id.startsWith('/') || id.startsWith('\0') || id.startsWith('node:')) {
      return false;
    }
    const name = id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0];
    return packages.includes(name);
  };
}

const DECLARES_OWN = /\b(?:const|let|var|function)\s+(?:__dirname|__filename)\b/;

// The bundle's own folder at run time, and paths relative to it: the build can be copied elsewhere (a
// container image, another checkout) with node_modules beside it.
const BANNER = [
  'var __nestorAt = (path) => require("node:path").join(__dirname, path);',
  'var __nestorUrlAt = (path) => require("node:url").pathToFileURL(__nestorAt(path)).href;',
].join('\n');

/**
 * Each bundled module sees the location it was built from: migrations, the admin and GraphiQL pages,
 * swagger-ui-dist's assets and PGlite's data files are found next to their original files.
 */
function originalLocation() {
  return {
    name: 'nestor-original-location',
    transform(code, id) {
      if (!id.startsWith(sep) || !/__dirname|__filename|import\.meta/.test(code)) {
        return null;
      }
      const file = JSON.stringify(relative(outDir, id.split('?')[0]));
      const dir = JSON.stringify(relative(outDir, dirname(id.split('?')[0])));
      let out = code
        .replaceAll('import.meta.url', `__nestorUrlAt(${file})`)
        .replaceAll('import.meta.dirname', `__nestorAt(${dir})`)
        .replaceAll('import.meta.filename', `__nestorAt(${file})`);
      if (/\b__dirname\b|\b__filename\b/.test(out) && !DECLARES_OWN.test(out)) {
        const vars = `var __dirname = __nestorAt(${dir}), __filename = __nestorAt(${file});`;
        out = out.startsWith('#!') ? out.replace(/\n/, `\n${vars}\n`) : `${vars}\n${out}`;
      }
      return out === code ? null : { code: out, map: null };
    },
  };
}

// An ES module's own `require`: without it, its `require('typeorm')` is the bundle's and rolldown bundles the
// package once (@nestjs/typeorm's compatibility lookup otherwise loaded all of TypeORM a second time).
const LOCAL_REQUIRE = /^const require = createRequire\(import\.meta\.url\);$/m;

// `lazyModule('x')` in the compiled framework: a literal `require('x')` on first use, so a package the bundle
// holds anyway (@nest-lab/throttler-storage-redis needs @nestjs/common) is not loaded again from node_modules.
const LAZY_CALL = /\(0, _lazymodule\.lazyModule\)\('([^']+)'\)/g;

/**
 * Packages loaded by a computed name that the bundle must share, not load again from node_modules:
 * TypeORM's driver (`PlatformTools.load('pg')`) and @nestjs/terminus's TypeORM peers
 * (`loadPackage('@nestjs/typeorm')`: a second copy has no DataSource, so /health/ready answered 503).
 * These edit third-party text, so each counts where it applied: a release that changes the text fails the
 * build instead of silently loading a second copy.
 */
function sharedDynamicLoads(applied) {
  const edit = (name, code, out) => {
    if (out !== code) {
      applied.add(name);
    }
    return out;
  };
  const changed = (code, out) => (out === code ? null : out);
  return {
    name: 'nestor-shared-dynamic-loads',
    transform(code, id) {
      if (code.includes('_lazymodule.lazyModule)(')) {
        return code.replace(LAZY_CALL, "((loaded) => () => (loaded ??= require('$1')))()");
      }
      if (id.includes(`${sep}typeorm${sep}platform${sep}PlatformTools.js`)) {
        const out = code.replace('return require(name);', 'if (name === "pg") { return require("pg"); }\n$&');
        return changed(code, edit('TypeORM PlatformTools.load(pg)', code, out));
      }
      if (LOCAL_REQUIRE.test(code) && !code.includes('require.resolve(')) {
        return code.replace(LOCAL_REQUIRE, '');
      }
      if (id.includes(`${sep}@nestjs${sep}terminus${sep}`)) {
        const loads = code.replace(/\bloadPackage\('(@nestjs\/typeorm|typeorm)'\)/g, "import('$1')");
        edit("terminus loadPackage('@nestjs/typeorm')", code, loads);
        const out = loads.replace('import.meta.resolve(packageName);', 'require.resolve(packageName);');
        return changed(code, edit('terminus import.meta.resolve', loads, out));
      }
      return null;
    },
  };
}

const SHARED_LOADS = [
  'TypeORM PlatformTools.load(pg)',
  "terminus loadPackage('@nestjs/typeorm')",
  'terminus import.meta.resolve',
];

/** Decided once for the three bundles: it reads every source file. */
const external = externals();

async function bundle(entry) {
  const applied = new Set();
  const build = await rolldown({
    input: join(root, 'dist', 'src', `${entry}.js`),
    platform: 'node',
    external,
    plugins: [sharedDynamicLoads(applied), originalLocation()],
    logLevel: 'warn',
    experimental: { attachDebugInfo: 'none' },
    onLog(level, log) {
      // Optional peers that are not installed are expected (their callers catch the failure).
      if (log.code !== 'UNRESOLVED_IMPORT' && log.code !== 'EVAL') {
        process.stderr.write(`bundle-server: ${log.message}\n`);
      }
    },
  });
  const file = join(outDir, `${entry}.js`);
  await build.write({
    file,
    format: 'cjs',
    banner: BANNER,
    codeSplitting: false,
    keepNames: true,
    charset: 'ascii',
    comments: false,
    sourcemap: false,
  });
  await build.close();
  // The transforms run during write(); a bundle they missed is not left for a start to pick up.
  const missed = SHARED_LOADS.filter((name) => !applied.has(name));
  if (missed.length > 0) {
    rmSync(file);
    throw new Error(
      `bundle-server: ${entry}: no longer applies (did a package change?): ${missed.join('; ')}`,
    );
  }
}

// The bundles finish (or remove what they wrote) before a failure ends the build, and a failed build leaves
// no launcher: ensure-build then builds again instead of starting a half-written bundle.
const failed = (await Promise.allSettled(['main', 'worker', 'cli'].map(bundle))).find(
  (r) => r.status === 'rejected',
);
if (failed) {
  rmSync(join(outDir, 'launch.js'), { force: true });
  throw failed.reason;
}
// `launch.js [main|worker|cli] [args…]`: the entry then sees `args` in process.argv, as when run directly.
writeFileSync(
  join(outDir, 'launch.js'),
  [
    "'use strict';",
    "require('node:module').enableCompileCache?.();",
    "const named = ['main', 'worker', 'cli'].includes(process.argv[2]);",
    "const entry = require('node:path').join(__dirname, `${named ? process.argv[2] : 'main'}.js`);",
    'process.argv.splice(1, named ? 2 : 1, entry);',
    'require(entry);',
    '',
  ].join('\n'),
);
