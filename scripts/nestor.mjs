#!/usr/bin/env node
// `npx nestor …` (the package's bin). `nestor new <dir>` creates a project from the templates shipped with
// the package. Any other command belongs to the project in the current directory: its dist/ is built when
// missing or stale, as `npm start` does (so the command works on a fresh clone and right after
// `nestor generate`), then its compiled CLI runs: this repository's bundle (dist/bundle/cli.js, through
// launch.js, as `npm start` runs the server), or an app's per-file build (dist/src/cli.js). `nestor build`
// only builds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The framework package: this repository, or node_modules/nestor in an app. */
const framework = join(import.meta.dirname, '..');

/** The project the command is for: the nearest folder with a package.json, from the current directory up. */
function projectRoot() {
  let dir = process.cwd();
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) {
    dir = dirname(dir);
  }
  return dir;
}

function ensureBuild(root) {
  const build = spawnSync(
    process.execPath,
    [join(framework, 'scripts', 'ensure-build.mjs'), 'server', root],
    {
      cwd: root,
      stdio: ['ignore', process.stderr, 'inherit'], // build chatter never mixes with the command's stdout
    },
  );
  if (build.status !== 0) {
    process.exit(build.status ?? 1);
  }
}

const require = createRequire(import.meta.url);
const [command] = process.argv.slice(2);
if (command === 'new') {
  // A checkout of the framework runs from its sources: built first. An installed package is built already.
  if (existsSync(join(framework, 'src', 'framework'))) {
    ensureBuild(framework);
  }
  require(join(framework, 'dist', 'src', 'framework', 'cli', 'new', 'new.command.js')).runNewCommand(
    process.argv.slice(3),
  );
} else {
  const project = projectRoot();
  ensureBuild(project);
  const bundle = join(project, 'dist', 'bundle');
  if (command === 'build') {
    // built above: nothing to run
  } else if (existsSync(join(bundle, 'cli.js'))) {
    // `launch.js cli <command…>`: it turns on the compile cache, then the bundle sees argv as if run directly.
    process.argv.splice(1, 1, join(bundle, 'launch.js'), 'cli');
    require(join(bundle, 'launch.js'));
  } else {
    require(join(project, 'dist', 'src', 'cli.js'));
  }
}
