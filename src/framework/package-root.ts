import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The framework package's root: the nearest folder above this file with a package.json. In this repository
 * that is the repository (from src/ under Jest, from dist/src/ once built); in an app, node_modules/nestor.
 * What the package ships beside its code (the admin UI, the `nestor` bin, `nestor new`'s templates) is
 * found from here.
 */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) {
    dir = dirname(dir);
  }
  return dir;
}
