import {
  constants,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/** Set when this process could not make a template it can trust: from then on, plain initdb. */
let unusable = false;

/**
 * Written last into a template: a directory without it was left by a process that died while making it, or
 * by a Nestor whose templates had no dump (format 1), and is made again.
 */
const COMPLETE = '.nestor-template-2';

/** The cluster as a gzipped tarball, for databases in memory (PGlite's `loadDataDir`); not copied to directories. */
const DUMP = 'pgdata.tar.gz';

/** PGlite's own version (its package.json is not in the package's exports, so it is read from the file). */
function pgliteVersion(): string {
  try {
    const manifest = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Where this user's template lives: in the system's temp folder, like Node's compile cache, one per user and
 * PGlite version (a new PGlite may make a different cluster).
 */
function templatePath(parent: string, uid: number): string {
  return join(parent, `nestor-pglite-template-${uid}-${pgliteVersion()}`);
}

/**
 * Whether `dir` is a finished template that only this user can have written: a real directory (no link
 * another user could have planted), owned by us and closed to group and others.
 */
function trusted(dir: string, uid: number): boolean {
  try {
    const stat = lstatSync(dir);
    return (
      stat.isDirectory() && stat.uid === uid && (stat.mode & 0o077) === 0 && existsSync(join(dir, COMPLETE))
    );
  } catch {
    return false;
  }
}

/** Runs PGlite's initdb once into a private directory and publishes it at `path` in one rename. */
async function makeTemplate(path: string): Promise<void> {
  const scratch = mkdtempSync(`${path}.tmp-`); // mode 0700
  try {
    const db = await PGlite.create({ dataDir: scratch });
    const dump = await db.dumpDataDir('gzip'); // 4.5 MB against the files' 40
    await db.close();
    writeFileSync(join(scratch, DUMP), Buffer.from(await dump.arrayBuffer()));
    writeFileSync(join(scratch, COMPLETE), '');
    try {
      renameSync(scratch, path);
    } catch {
      // Another process published its template first: same bytes, keep theirs.
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * This user's trusted template in `parent`, made first when there is none; undefined where none can be trusted
 * (then the caller lets PGlite run initdb).
 */
async function usableTemplate(parent: string): Promise<string | undefined> {
  // Without POSIX owners and modes (Windows) a shared temp folder's template cannot be trusted: initdb.
  const uid = process.getuid?.();
  if (uid === undefined || unusable) {
    return undefined;
  }
  const template = templatePath(parent, uid);
  if (!trusted(template, uid)) {
    rmSync(template, { recursive: true, force: true }); // unfinished, of an older format, or not ours to trust
    await makeTemplate(template);
    if (!trusted(template, uid)) {
      unusable = true; // a folder that will not keep a private directory: not worth a second initdb again
      return undefined;
    }
  }
  return template;
}

/**
 * Fills a new, empty embedded data directory with a copy of a freshly initialised cluster instead of letting
 * PGlite run initdb there: initdb takes about 5 s of CPU (every test kit database, every `nestor new`
 * project's first start), a copy under one. The first new directory of a PGlite version pays for the template.
 * Returns whether the copy was made; on any failure the directory is left empty and PGlite runs initdb.
 * The template is kept in `parent` (the system's temp folder).
 * Example: `await seedFromTemplate('./data/pglite')` before `PGlite.create({ dataDir: './data/pglite' })`.
 */
export async function seedFromTemplate(dataDir: string, parent = tmpdir()): Promise<boolean> {
  if (readdirSync(dataDir).length > 0) {
    return false;
  }
  try {
    const template = await usableTemplate(parent);
    if (!template) {
      return false;
    }
    const own = new Set([join(template, COMPLETE), join(template, DUMP)]);
    // A copy-on-write clone where the file system has them.
    cpSync(template, dataDir, {
      recursive: true,
      mode: constants.COPYFILE_FICLONE,
      filter: (source) => !own.has(source),
    });
    return true;
  } catch {
    for (const entry of readdirSync(dataDir)) {
      rmSync(join(dataDir, entry), { recursive: true, force: true });
    }
    return false;
  }
}

/**
 * The template's cluster for a database in memory, as PGlite's `loadDataDir` takes it: loading it costs about
 * half of initdb's wall time and a third of its CPU (the scratch databases of `nestor routes`, `openapi`,
 * `makemigrations`, `check`). Undefined where no template can be trusted or read: then PGlite runs initdb.
 * Example: `await PGlite.create({ loadDataDir: await templateDump() })`.
 */
export async function templateDump(parent = tmpdir()): Promise<Blob | undefined> {
  try {
    const template = await usableTemplate(parent);
    return template ? new Blob([readFileSync(join(template, DUMP))]) : undefined;
  } catch {
    return undefined;
  }
}
