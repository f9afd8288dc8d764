import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import * as ts from 'typescript';
import { Query } from 'typeorm/driver/Query';
import {
  destructiveChanges,
  renderMigration,
  SchemaDiff,
  writeMigration,
} from 'src/framework/database/migrations';

type Call = [string, unknown[] | undefined];

interface LoadedMigration {
  name: string;
  up(runner: { query: (sql: string, params?: unknown[]) => Promise<unknown> }): Promise<void>;
  down(runner: { query: (sql: string, params?: unknown[]) => Promise<unknown> }): Promise<void>;
}

const q = (query: string, parameters?: unknown[]): Query => new Query(query, parameters);

/** Compiles generated migration source as TypeScript; fails on any syntax error. */
function compile(source: string): string {
  const output = ts.transpileModule(source, {
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  });
  const messages = (output.diagnostics ?? []).map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  );
  expect(messages).toEqual([]);
  return output.outputText;
}

/** Compiles and evaluates generated source, returning an instance of its one exported class. */
function load(source: string): LoadedMigration {
  const exports: Record<string, new () => LoadedMigration> = {};
  const evaluate = runInThisContext(`(function (exports, require) {\n${compile(source)}\n})`) as (
    e: typeof exports,
    r: (id: string) => unknown,
  ) => void;
  evaluate(exports, () => ({}));
  const classes = Object.values(exports);
  expect(classes).toHaveLength(1);
  return new classes[0]();
}

/** Runs one direction of a migration and returns the queries it sent. */
async function run(migration: LoadedMigration, direction: 'up' | 'down'): Promise<Call[]> {
  const calls: Call[] = [];
  await migration[direction]({
    query: (sql, params) => {
      calls.push([sql, params]);
      return Promise.resolve(undefined);
    },
  });
  return calls;
}

describe(renderMigration.name, () => {
  const diff: SchemaDiff = {
    up: [
      q('CREATE TABLE "category" ("id" SERIAL NOT NULL, CONSTRAINT "PK_category" PRIMARY KEY ("id"))'),
      q('ALTER TABLE "product" ADD "categoryId" integer'),
      q(
        'ALTER TABLE "product" ADD CONSTRAINT "FK_product_category" FOREIGN KEY ("categoryId") REFERENCES "category"("id")',
      ),
    ],
    down: [
      q('DROP TABLE "category"'),
      q('ALTER TABLE "product" DROP COLUMN "categoryId"'),
      q('ALTER TABLE "product" DROP CONSTRAINT "FK_product_category"'),
    ],
  };

  it('declares a class with the given name and a matching name property', () => {
    const sut = load(renderMigration('AddCategory1700000000000', diff));

    expect(sut.constructor.name).toBe('AddCategory1700000000000');
    expect(sut.name).toBe('AddCategory1700000000000');
  });

  it('runs the up queries in order', async () => {
    const sut = load(renderMigration('AddCategory1700000000000', diff));

    expect(await run(sut, 'up')).toEqual(diff.up.map((query) => [query.query, undefined]));
  });

  it('runs the down queries in reverse order', async () => {
    const sut = load(renderMigration('AddCategory1700000000000', diff));

    expect((await run(sut, 'down')).map(([sql]) => sql)).toEqual([
      'ALTER TABLE "product" DROP CONSTRAINT "FK_product_category"',
      'ALTER TABLE "product" DROP COLUMN "categoryId"',
      'DROP TABLE "category"',
    ]);
  });

  it('does not reorder the diff it was given', () => {
    const down = [...diff.down];

    renderMigration('AddCategory1700000000000', diff);

    expect(diff.down).toEqual(down);
  });

  it('passes query parameters through', async () => {
    const sut = load(
      renderMigration('AddView1700000000000', {
        up: [q('INSERT INTO "typeorm_metadata" VALUES ($1, $2, $3)', ['VIEW', null, 'SELECT 1'])],
        down: [],
      }),
    );

    expect(await run(sut, 'up')).toEqual([
      ['INSERT INTO "typeorm_metadata" VALUES ($1, $2, $3)', ['VIEW', null, 'SELECT 1']],
    ]);
  });

  it('escapes backticks, ${ and backslashes so the SQL arrives byte for byte', async () => {
    const tricky = [
      'COMMENT ON COLUMN "product"."price" IS \'in ${currency}, see `docs`\'',
      "CREATE FUNCTION f() RETURNS text AS $$ SELECT 'a\\b' || E'\\n' || '\\`' $$ LANGUAGE sql",
      "SELECT '\\'",
      'SELECT $1::text, $${$$',
    ];

    const source = renderMigration('Tricky1700000000000', {
      up: tricky.map((s) => q(s)),
      down: [q(tricky[0])],
    });
    const sut = load(source);

    expect((await run(sut, 'up')).map(([sql]) => sql)).toEqual(tricky);
    expect((await run(sut, 'down')).map(([sql]) => sql)).toEqual([tricky[0]]);
  });

  it('renders an empty diff as a valid no-op migration', async () => {
    const sut = load(renderMigration('Nothing1700000000000', { up: [], down: [] }));

    expect(await run(sut, 'up')).toEqual([]);
    expect(await run(sut, 'down')).toEqual([]);
  });
});

describe(writeMigration.name, () => {
  const now = 1700000000000;
  const diff: SchemaDiff = {
    up: [q('ALTER TABLE "product" ADD "sku" text')],
    down: [q('ALTER TABLE "product" DROP COLUMN "sku"')],
  };
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nestor-migrations-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes <timestamp>-<PascalName>.ts with a class named <PascalName><timestamp>', async () => {
    const file = await writeMigration(diff, 'add product-sku', dir, now);

    expect(file).toBe(join(dir, `${now}-AddProductSku.ts`));
    const sut = load(readFileSync(file, 'utf8'));
    expect(sut.name).toBe(`AddProductSku${now}`);
    expect(await run(sut, 'up')).toEqual([['ALTER TABLE "product" ADD "sku" text', undefined]]);
    expect(await run(sut, 'down')).toEqual([['ALTER TABLE "product" DROP COLUMN "sku"', undefined]]);
  });

  it('keeps an already PascalCase name as it is', async () => {
    const file = await writeMigration(diff, 'AddProductSku', dir, now);

    expect(file).toBe(join(dir, `${now}-AddProductSku.ts`));
  });

  it('creates the directory when it does not exist', async () => {
    const nested = join(dir, 'db', 'migrations');

    const file = await writeMigration(diff, 'AddProductSku', nested, now);

    expect(existsSync(file)).toBe(true);
  });

  it.each([['1st'], [''], ['---'], ['42 things']])(
    'refuses the name %p with NST-M001 and writes nothing',
    async (name) => {
      await expect(writeMigration(diff, name, dir, now)).rejects.toThrow('NST-M001');

      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it('refuses to overwrite an existing file with NST-M002', async () => {
    const file = join(dir, `${now}-AddProductSku.ts`);
    writeFileSync(file, '// hand-edited\n');

    await expect(writeMigration(diff, 'AddProductSku', dir, now)).rejects.toThrow('NST-M002');

    expect(readFileSync(file, 'utf8')).toBe('// hand-edited\n');
  });
});

describe(destructiveChanges.name, () => {
  const diff = (...queries: string[]): SchemaDiff => ({ up: queries.map((query) => q(query)), down: [] });

  it('lets additive changes through', () => {
    expect(
      destructiveChanges(
        diff(
          'CREATE TABLE "coupon" ("id" SERIAL NOT NULL)',
          'ALTER TABLE "product" ADD "weight" integer',
          'ALTER TABLE "product" DROP CONSTRAINT "FK_1"',
        ),
      ),
    ).toEqual([]);
  });

  it('calls a dropped column with a new one beside it a likely rename', () => {
    const [finding] = destructiveChanges(
      diff(
        'ALTER TABLE "product" DROP COLUMN "sku"',
        'ALTER TABLE "product" ADD "code" character varying(64)',
      ),
    );
    expect(finding).toMatch(/^NST-M005 product\.sku is dropped while product\.code is added/);
    expect(finding).toContain('RENAME COLUMN "sku"');
  });

  it('refuses plain drops, re-created columns, type changes and dropped tables', () => {
    expect(
      destructiveChanges(
        diff(
          'ALTER TABLE "product" DROP COLUMN "stock"',
          'ALTER TABLE "tag" DROP COLUMN "name"',
          'ALTER TABLE "tag" ADD "name" integer NOT NULL',
          'ALTER TABLE "order" ALTER COLUMN "total" TYPE numeric(12,2)',
          'DROP TABLE "coupon"',
        ),
      ).map((f) => f.slice(0, 8)),
    ).toEqual(['NST-M006', 'NST-M006', 'NST-M006', 'NST-M006']);
  });

  it('asks to confirm a rename TypeORM guessed', () => {
    expect(destructiveChanges(diff('ALTER TABLE "tag" RENAME COLUMN "title" TO "name"'))).toEqual([
      expect.stringMatching(/^NST-M007 tag\.title is taken for a rename to tag\.name/),
    ]);
  });

  it('calls a dropped table with a created one a likely rename', () => {
    expect(destructiveChanges(diff('DROP TABLE "coupon"', 'CREATE TABLE "voucher" ("id" SERIAL)'))).toEqual([
      expect.stringMatching(/^NST-M005 Table coupon is dropped while voucher is created/),
    ]);
  });
});
