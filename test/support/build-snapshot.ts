import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, ensureBuild } from 'test/support/processes';

/**
 * A private copy of the built app (dist/ plus test/support/fault-app.js; everything else symlinked to the
 * checkout), so a long fault test keeps running the same build while other test files rebuild dist/.
 * Example: `const build = snapshotBuild(); new NestorProcess([build.main], env); … build.remove();`
 */
export function snapshotBuild(): { root: string; main: string; faultApp: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'nestor-build-'));
  for (const entry of readdirSync(ROOT)) {
    if (entry !== 'dist' && entry !== 'test') {
      symlinkSync(join(ROOT, entry), join(root, entry));
    }
  }
  const main = join(root, 'dist', 'src', 'main.js');
  const complete = (): boolean =>
    ['main.js', 'worker.js', 'app.module.js', join('framework', 'bootstrap.js')].every((f) =>
      existsSync(join(root, 'dist', 'src', f)),
    );
  for (let attempt = 1; ; attempt++) {
    ensureBuild();
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    try {
      cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true });
    } catch {
      // dist/ was being rebuilt while copying: try again
    }
    if (complete() || attempt === 5) {
      break;
    }
  }
  mkdirSync(join(root, 'test', 'support'), { recursive: true });
  const faultApp = join(root, 'test', 'support', 'fault-app.js');
  copyFileSync(join(ROOT, 'test', 'support', 'fault-app.js'), faultApp);
  return { root, main, faultApp, remove: () => rmSync(root, { recursive: true, force: true }) };
}
