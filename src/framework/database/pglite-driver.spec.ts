import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { PGlite } from '@electric-sql/pglite';
import { createPGliteDriver } from 'src/framework/database/pglite-driver';

const embedded = (dataDir?: string) =>
  new DataSource({ type: 'postgres', driver: createPGliteDriver(dataDir), logging: false });

describe(createPGliteDriver.name, () => {
  describe('in memory', () => {
    let sut: DataSource;

    beforeAll(async () => {
      sut = embedded();
      await sut.initialize();
      await sut.query('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)');
      await sut.query('CREATE TABLE item (id int PRIMARY KEY)');
    });

    afterAll(async () => {
      await sut?.destroy();
    });

    beforeEach(async () => {
      await sut.query('TRUNCATE counter, item');
      await sut.query('INSERT INTO counter (id, n) VALUES (1, 0)');
    });

    it('starts from the template cluster instead of running initdb', async () => {
      const create = jest.spyOn(PGlite, 'create');
      const another = embedded();
      try {
        await another.initialize();
        expect(await another.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
        expect(create).toHaveBeenCalledWith(expect.objectContaining({ loadDataDir: expect.any(Blob) }));
      } finally {
        create.mockRestore();
        await another.destroy();
      }
    });

    const counter = async () =>
      (await sut.query<Array<{ n: number }>>('SELECT n FROM counter WHERE id = 1'))[0].n;

    it('runs concurrent transactions one after another, never interleaved', async () => {
      await Promise.all(
        Array.from({ length: 25 }, () =>
          sut.transaction(async (manager) => {
            const [{ n }] = await manager.query<Array<{ n: number }>>('SELECT n FROM counter WHERE id = 1');
            await sleep(2);
            await manager.query('UPDATE counter SET n = $1 WHERE id = 1', [n + 1]);
          }),
        ),
      );

      expect(await counter()).toBe(25);
    });

    it('rolls back a failing transaction without touching concurrent successful ones', async () => {
      const ids = Array.from({ length: 12 }, (_, i) => i + 1);

      const results = await Promise.allSettled(
        ids.map((id) =>
          sut.transaction(async (manager) => {
            await manager.query('INSERT INTO item (id) VALUES ($1)', [id]);
            await sleep(1);
            if (id % 3 === 0) {
              throw new Error(`transaction ${id} fails`);
            }
          }),
        ),
      );

      const failed = ids.filter((id) => id % 3 === 0);
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(failed.length);
      const rows = await sut.query<Array<{ id: number }>>('SELECT id FROM item ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual(ids.filter((id) => !failed.includes(id)));
    });

    it('rolls back a transaction whose connection is released before commit', async () => {
      const runner = sut.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      await runner.query('INSERT INTO item (id) VALUES (1)');
      await runner.release();

      await sut.transaction((manager) => manager.query('INSERT INTO item (id) VALUES (2)'));

      const rows = await sut.query<Array<{ id: number }>>('SELECT id FROM item ORDER BY id');
      expect(rows).toEqual([{ id: 2 }]);
    });

    it('reports how many rows an update affected', async () => {
      await sut.query('INSERT INTO counter (id, n) VALUES (2, 0), (3, 0)');

      const one = await sut
        .createQueryBuilder()
        .update('counter')
        .set({ n: 5 })
        .where('id = :id', { id: 1 })
        .execute();
      const all = await sut.createQueryBuilder().update('counter').set({ n: 0 }).execute();

      expect(one.affected).toBe(1);
      expect(all.affected).toBe(3);
    });

    it('reports how many rows a delete affected', async () => {
      const result = await sut
        .createQueryBuilder()
        .delete()
        .from('counter')
        .where('id = :id', { id: 1 })
        .execute();
      const none = await sut
        .createQueryBuilder()
        .delete()
        .from('counter')
        .where('id = :id', { id: 1 })
        .execute();

      expect(result.affected).toBe(1);
      expect(none.affected).toBe(0);
    });

    it('returns int8 values as strings, like node-postgres', async () => {
      const [literal] = await sut.query<Array<{ v: unknown }>>('SELECT 9007199254740993::int8 AS v');
      const [param] = await sut.query<Array<{ v: unknown }>>('SELECT $1::int8 AS v', ['9007199254740993']);

      expect(literal.v).toBe('9007199254740993');
      expect(param.v).toBe('9007199254740993');
    });

    it('returns the last result of a multi-statement script', async () => {
      const rows = await sut.query('UPDATE counter SET n = 7; SELECT n FROM counter');

      expect(rows).toEqual([{ n: 7 }]);
    });
  });

  describe('in a data directory', () => {
    let dir: string;
    const opened: DataSource[] = [];

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'nestor-pglite-'));
    });

    afterAll(async () => {
      for (const dataSource of opened) {
        if (dataSource.isInitialized) {
          await dataSource.destroy();
        }
      }
      rmSync(dir, { recursive: true, force: true });
    });

    const open = (dataDir: string) => {
      const dataSource = embedded(dataDir);
      opened.push(dataSource);
      return dataSource;
    };

    // One test: every open of a data directory boots PGlite (seconds), so the steps share the boots.
    it('refuses a second open while the first is open, and persists data across a restart', async () => {
      const dataDir = join(dir, 'pglite');
      const first = open(dataDir);
      await first.initialize();
      await first.query('CREATE TABLE note (body text)');
      await first.query(`INSERT INTO note VALUES ('kept')`);

      await expect(open(dataDir).initialize()).rejects.toThrow('NST-D002');
      // The refused open must not have dropped the first one's lock.
      await expect(open(dataDir).initialize()).rejects.toThrow('NST-D002');

      await first.destroy();
      expect(existsSync(`${dataDir}.lock`)).toBe(false);
      // A lock left behind by a process that died does not block the next start.
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
      writeFileSync(`${dataDir}.lock`, String(deadPid));
      const sut = open(dataDir);
      await sut.initialize();

      expect(await sut.query('SELECT body FROM note')).toEqual([{ body: 'kept' }]);
    });
  });
});
