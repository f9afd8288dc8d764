// Builds dist/ when it is missing or older than the sources, so `npm start` works on a fresh checkout
// and after a `git pull` without a separate build step. Never runs while the server is starting.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const marker = join(root, 'dist', 'src', 'main.js');

function newest(path) {
  if (!existsSync(path)) {
    return 0;
  }
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    return stat.mtimeMs;
  }
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs);
}

const sources = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
const builtAt = existsSync(marker) ? statSync(marker).mtimeMs : 0;
if (builtAt === 0 || sources.some((s) => newest(join(root, s)) > builtAt)) {
  process.stderr.write('Building Nestor (dist/ is missing or older than the sources)…\n');
  const result = spawnSync(
    process.execPath,
    [join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (result.status !== 0) {
    process.exit(result.status ?? 1);
  }
}
