// `npm run bench`: builds dist/ when stale (as `npm start` does) and snapshots it into .tmp/bench/dist/,
// transpiles test/bench/**/*.ts with swc into .tmp/bench/ (no type-check: `npm run check` covers these files),
// then runs the harness. Contenders and the harness resolve `src/…` to the snapshot and `test/bench/…` to
// .tmp/bench/ via NODE_PATH.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const out = join(root, '.tmp', 'bench');
const require = createRequire(import.meta.url);
const swc = require('@swc/core');

const build = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-build.mjs'), 'server'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) {
  process.exit(build.status ?? 1);
}

// Run from a snapshot of dist/: a rebuild (another `npm start`, a test) empties dist/ first, which would pull
// the framework from under a running benchmark. Copied under the build lock ensure-build.mjs uses.
const lock = join(root, '.build-lock');
for (let tries = 0; ; tries++) {
  try {
    mkdirSync(lock);
    break;
  } catch {
    if (tries > 600) {
      throw new Error('dist/ stayed locked by a build for 5 minutes');
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
try {
  rmSync(join(out, 'dist'), { recursive: true, force: true });
  cpSync(join(root, 'dist'), join(out, 'dist'), { recursive: true });
} finally {
  rmSync(lock, { recursive: true, force: true });
}
// The app imports the framework as `nestor` (the package's own name), which Node resolves through the nearest
// package.json named so: without this one, the checkout's, whose exports point into dist/ rather than the
// snapshot; a contender importing `src/framework/…` (NODE_PATH, the snapshot) would then hold a second copy
// of the framework, whose classes Nest does not know (jobs-nestor: "Nest could not find JobsService").
const { name, type, exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(
  join(out, 'package.json'),
  `${JSON.stringify({ name, private: true, type, exports }, null, 2)}\n`,
);

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'results') {
      yield* sources(path);
    } else if (entry.isFile() && entry.name.endsWith('.ts')) {
      yield path;
    }
  }
}
for (const file of sources(import.meta.dirname)) {
  const { code, map } = swc.transformFileSync(file, {
    sourceMaps: true,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
  });
  const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, `${code}\n//# sourceMappingURL=${target.split('/').pop()}.map`);
  writeFileSync(`${target}.map`, map);
}

const child = spawn(
  process.execPath,
  ['--enable-source-maps', join(out, 'test', 'bench', 'harness.js'), ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_PATH: [out, join(out, 'dist')].join(':') },
  },
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
