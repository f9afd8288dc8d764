import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { seedFromTemplate, templateDump } from 'src/framework/database/pglite-template';

/** The template's folder in this spec's own temp folder, so that it neither uses nor leaves the machine's. */
const templateIn = (tmp: string) =>
  readdirSync(tmp).filter((name) => name.startsWith('nestor-pglite-template-'));

describe(seedFromTemplate.name, () => {
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'nestor-template-spec-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  const newDir = (name: string) => {
    const dir = join(tmp, 'data', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  // One case for the template's life: every PGlite boot costs seconds.
  it('gives each new directory its own copy of one initialised cluster; never touches a used one', async () => {
    const a = newDir('a');
    expect(await seedFromTemplate(a, tmp)).toBe(true);
    expect(templateIn(tmp)).toHaveLength(1);
    expect(existsSync(join(a, 'PG_VERSION'))).toBe(true);

    const b = newDir('b');
    const started = performance.now();
    expect(await seedFromTemplate(b, tmp)).toBe(true);
    const copyMs = performance.now() - started;

    // Two independent databases: what one writes the other does not see.
    const first = await PGlite.create({ dataDir: a });
    await first.exec(`CREATE TABLE note (body text); INSERT INTO note VALUES ('only in a')`);
    await first.close();
    const second = await PGlite.create({ dataDir: b });
    const tables = await second.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'note'`);
    expect(tables.rows).toEqual([{ n: 0 }]);
    await second.close();
    const reopened = await PGlite.create({ dataDir: a });
    expect((await reopened.query('SELECT body FROM note')).rows).toEqual([{ body: 'only in a' }]);
    await reopened.close();

    // A directory with anything in it is the user's: left as it is.
    expect(await seedFromTemplate(a, tmp)).toBe(false);
    const used = newDir('used');
    writeFileSync(join(used, 'keep.txt'), 'mine');
    expect(await seedFromTemplate(used, tmp)).toBe(false);
    expect(readdirSync(used)).toEqual(['keep.txt']);

    // The copy is the cheap part (initdb is seconds of CPU); generous for a busy machine.
    expect(copyMs).toBeLessThan(5_000);
  }, 120_000);

  it('gives each database in memory the same cluster, loaded from a dump kept out of data directories', async () => {
    const one = await PGlite.create({ loadDataDir: await templateDump(tmp) });
    const two = await PGlite.create({ loadDataDir: await templateDump(tmp) });
    await one.exec(`CREATE TABLE note (body text); INSERT INTO note VALUES ('only in one')`);
    expect((await one.query('SELECT body FROM note')).rows).toEqual([{ body: 'only in one' }]);
    const tables = await two.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'note'`);
    expect(tables.rows).toEqual([{ n: 0 }]);
    await Promise.all([one.close(), two.close()]);
    expect(templateIn(tmp)).toHaveLength(1);

    // A data directory gets the cluster's files only: neither the dump nor the template's marker.
    const d = newDir('d');
    expect(await seedFromTemplate(d, tmp)).toBe(true);
    expect(readdirSync(d).filter((name) => name.includes('tar') || name.startsWith('.nestor'))).toEqual([]);
  }, 120_000);

  it('makes a template of the first format (no dump) again', async () => {
    const [name] = templateIn(tmp);
    const template = join(tmp, name);
    for (const file of readdirSync(template).filter(
      (f) => f.endsWith('.tar.gz') || f.startsWith('.nestor'),
    )) {
      rmSync(join(template, file));
    }
    writeFileSync(join(template, '.nestor-template'), ''); // what the first format wrote last

    const dump = await templateDump(tmp);
    expect(dump?.size).toBeGreaterThan(1_000_000);
    const db = await PGlite.create({ loadDataDir: dump });
    expect((await db.query<{ ok: number }>('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    await db.close();
  }, 120_000);

  it('does not copy a template that others could have written, and replaces it', async () => {
    const [name] = templateIn(tmp);
    const template = join(tmp, name);
    chmodSync(template, 0o777);
    writeFileSync(join(template, 'planted'), '');

    const c = newDir('c');
    expect(await seedFromTemplate(c, tmp)).toBe(true);
    expect(existsSync(join(c, 'planted'))).toBe(false);
    expect(existsSync(join(c, 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(template, 'planted'))).toBe(false);
  }, 120_000);

  it('is off where the file system has no POSIX owners (Windows): the directory is left to initdb', async () => {
    const getuid = process.getuid;
    const dir = newDir('no-owners');
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(elsewhere);
    try {
      Object.assign(process, { getuid: undefined });
      expect(await seedFromTemplate(dir, elsewhere)).toBe(false);
      expect(await templateDump(elsewhere)).toBeUndefined();
    } finally {
      Object.assign(process, { getuid });
    }
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(elsewhere)).toEqual([]); // no template made either
  });
});
