import { Logger, Module } from '@nestjs/common';
import type { LightMyRequestResponse } from 'fastify';
import { type PoolClient, types } from 'pg';
import {
  Column,
  CreateDateColumn,
  DataSource,
  Entity,
  EntitySubscriberInterface,
  InsertEvent,
  JoinTable,
  ManyToMany,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  VersionColumn,
} from 'typeorm';
import { serverPool } from 'src/framework/database/data-source-options';
import { OneStatementCreate } from 'src/framework/resource/one-statement-create';
import { Resource } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { TestApp, createTestApp } from 'src/framework/testing';
import { appWith } from 'test/support/app-with';

const upper = {
  to: (v?: string | null) => (typeof v === 'string' ? v.toUpperCase() : v),
  from: (v: unknown) => v,
};

enum Kind {
  A = 'a',
  B = 'b',
}

/** One column of most types a resource field can have. */
@Entity('sample_gizmo')
class Gizmo {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 60, unique: true }) name!: string;
  @Column({ type: 'varchar', nullable: true, transformer: upper }) code!: string | null;
  @Column({ type: 'varchar', nullable: true, default: 'dflt' }) note!: string | null;
  @Column({ type: 'double precision', nullable: true }) ratio!: number | null;
  @Column({ type: 'numeric', precision: 12, scale: 4, nullable: true }) amount!: string | null;
  @Column({ type: 'bigint', nullable: true }) big!: string | null;
  @Column({ type: 'enum', enum: Kind, enumName: 'sample_gizmo_kind', default: Kind.A }) kind!: Kind;
  @Column({ type: 'jsonb', nullable: true }) data!: unknown;
  @Column({ type: 'json', nullable: true }) meta!: unknown;
  @Column({ type: 'date', nullable: true }) day!: string | null;
  @Column({ type: 'timestamptz', nullable: true }) at!: Date | null;
  @Column({ type: 'timestamp', nullable: true }) local!: Date | null;
  @Column({ type: 'boolean', default: false }) flag!: boolean;
  @Column({ type: 'int', generatedType: 'STORED', asExpression: 'length(name)', nullable: true })
  nameLength!: number | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @VersionColumn() version!: number;
}

@Entity('sample_label')
class Label {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 60 }) name!: string;
}

@Entity('sample_badge')
class Badge {
  @PrimaryColumn({ type: 'bigint' }) id!: string;
}

/** To-many ids of uuid and bigint keys: arrays node-postgres reads as arrays of strings. */
@Entity('sample_visit')
class Visit {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 60, unique: true }) name!: string;
  @Column({ type: 'bigint', array: true, default: () => `'{1,9007199254740993}'` }) counts!: string[];
  @Column({ type: 'uuid', array: true, default: () => `'{00000000-0000-4000-8000-000000000001}'` })
  refs!: string[];
  @Column({ type: 'enum', enum: Kind, enumName: 'sample_gizmo_kind', array: true, default: () => `'{a,b}'` })
  kinds!: Kind[];
  @ManyToMany(() => Label)
  @JoinTable({
    name: 'sample_visit_labels',
    joinColumn: { name: 'visitId' },
    inverseJoinColumn: { name: 'labelId' },
  })
  labels!: Label[];
  @ManyToMany(() => Badge)
  @JoinTable({
    name: 'sample_visit_badges',
    joinColumn: { name: 'visitId' },
    inverseJoinColumn: { name: 'badgeId' },
  })
  badges!: Badge[];
}

/** Types SQL cannot render as node-postgres reads them (an interval becomes an object, numeric[] floats). */
@Entity('sample_span')
class Span {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 60 }) name!: string;
  @Column({ type: 'interval', nullable: true }) length!: unknown;
}

const DDL = `
  CREATE TYPE sample_gizmo_kind AS ENUM ('a', 'b');
  CREATE TABLE sample_gizmo (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(60) NOT NULL UNIQUE,
    code varchar, note varchar DEFAULT 'dflt', ratio double precision, amount numeric(12,4), big bigint,
    kind sample_gizmo_kind NOT NULL DEFAULT 'a', data jsonb, meta json, day date, at timestamptz,
    local timestamp, flag boolean NOT NULL DEFAULT false,
    "nameLength" int GENERATED ALWAYS AS (length(name)) STORED,
    "createdAt" timestamptz NOT NULL DEFAULT now(), version int NOT NULL,
    CONSTRAINT "CHK_sample_gizmo_ratio" CHECK (ratio IS NULL OR ratio < 100));
  CREATE TABLE sample_label (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name varchar(60) NOT NULL);
  CREATE TABLE sample_badge (id bigint PRIMARY KEY);
  CREATE TABLE sample_visit (id serial PRIMARY KEY, name varchar(60) NOT NULL UNIQUE,
    counts bigint[] NOT NULL DEFAULT '{1,9007199254740993}',
    refs uuid[] NOT NULL DEFAULT '{00000000-0000-4000-8000-000000000001}',
    kinds sample_gizmo_kind[] NOT NULL DEFAULT '{a,b}');
  CREATE TABLE sample_visit_labels ("visitId" int REFERENCES sample_visit(id) ON DELETE CASCADE,
    "labelId" uuid REFERENCES sample_label(id) ON DELETE CASCADE, PRIMARY KEY ("visitId", "labelId"));
  CREATE TABLE sample_visit_badges ("visitId" int REFERENCES sample_visit(id) ON DELETE CASCADE,
    "badgeId" bigint REFERENCES sample_badge(id) ON DELETE CASCADE, PRIMARY KEY ("visitId", "badgeId"));
  CREATE TABLE sample_span (id serial PRIMARY KEY, name varchar(60) NOT NULL, length interval)`;

@Resource(Gizmo, { path: 'gizmos' })
class GizmoResource {}

@Resource(Visit, { path: 'visits' })
class VisitResource {}

@Resource(Label, { path: 'labels' })
class LabelResource {}

@Resource(Badge, { path: 'badges' })
class BadgeResource {}

@Resource(Span, { path: 'spans' })
class SpanResource {}

@Module({
  imports: [
    ResourceModule.forFeature([GizmoResource, VisitResource, LabelResource, BadgeResource, SpanResource]),
  ],
})
class SampleModule {}

const withSamples = appWith(SampleModule);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A generated create made as ONE statement (OneStatementCreate: INSERT … RETURNING and the audit entry,
 * outside a transaction) must answer, store and audit exactly what the ordinary transactional create does,
 * for every column type, and must never answer an error once that statement committed. The ordinary path is
 * forced by a subscriber that listens to the entity and has no event method at all (it changes nothing but
 * `applies`).
 */
describe('one-statement create: column types, audit parity and what happens after its commit', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let n = 0;

  beforeAll(async () => {
    t = await createTestApp(withSamples, { as: 'superuser', env: { RESOURCE_CACHE: 'off' } });
    dataSource = t.app.get(DataSource);
    await dataSource.query(DDL);
  });
  afterAll(() => t?.close());

  /** The audit corrections (second statements) sent while `run` runs. */
  async function corrections<T>(run: () => Promise<T>): Promise<{ result: T; corrected: unknown[] }> {
    const spy = jest.spyOn(dataSource.manager, 'query');
    try {
      const result = await run();
      const updates = spy.mock.calls.filter(([sql]) => String(sql).startsWith('UPDATE "audit_entry"'));
      return { result, corrected: updates.map(([, params]) => (params as unknown[])[1]) };
    } finally {
      spy.mockRestore();
    }
  }

  /** POSTs `body`; `ordinary` forces the transactional create. Checks which path ran, and no correction. */
  async function create(
    path: string,
    entity: new () => object,
    body: Record<string, unknown>,
    ordinary: boolean,
  ): Promise<LightMyRequestResponse> {
    const inert: EntitySubscriberInterface = { listenTo: () => entity };
    if (ordinary) {
      dataSource.subscribers.push(inert);
    }
    const spy = jest.spyOn(OneStatementCreate.prototype, 'create');
    try {
      const { result, corrected } = await corrections(() =>
        t.inject({ method: 'POST', url: `/api/${path}`, payload: body }),
      );
      expect({ oneStatement: spy.mock.calls.length, corrected }).toEqual({
        oneStatement: ordinary ? 0 : 1,
        corrected: [],
      });
      return result;
    } finally {
      spy.mockRestore();
      if (ordinary) {
        dataSource.subscribers.splice(dataSource.subscribers.indexOf(inert), 1);
      }
    }
  }

  const entryOf = async (resource: string, id: unknown) =>
    (
      await dataSource.query<Record<string, unknown>[]>(
        `SELECT "actorId", via, resource, "recordId", operation, changes
           FROM audit_entry WHERE resource = $1 AND "recordId" = $2`,
        [resource, String(id)],
      )
    )[0];

  describe('gizmos (most scalar types)', () => {
    const counts = async () =>
      (
        await dataSource.query<{ p: number; a: number }[]>(
          `SELECT (SELECT count(*)::int FROM sample_gizmo) p,
                  (SELECT count(*)::int FROM audit_entry WHERE resource='gizmos') a`,
        )
      )[0];

    async function observed(res: LightMyRequestResponse) {
      expect({ status: res.statusCode, body: res.body }).toMatchObject({ status: 201 });
      const body = res.json<Record<string, unknown>>();
      const get = await t.inject(`/api/gizmos/${String(body.id)}`);
      const entry = await entryOf('gizmos', body.id);
      const { id, name, createdAt: _createdAt, nameLength, ...rest } = body;
      const changes = { ...(entry.changes as Record<string, unknown>) };
      delete changes.name;
      return {
        location: res.headers.location === `/api/gizmos/${String(id)}`,
        etagMatchesGet: res.headers.etag === get.headers.etag,
        bodyMatchesGet: res.body === get.body,
        keys: Object.keys(body),
        nameLength: nameLength === String(name).length,
        rest,
        entry: { ...entry, recordId: entry.recordId === String(id), changes },
      };
    }

    /** Names of one length on both paths: the audited generated `nameLength` must match. */
    const seq = () => String(n).padStart(4, '0');
    const bodies: Record<string, () => Record<string, unknown>> = {
      minimal: () => ({ name: `min-${seq()}` }),
      nulls: () => ({
        name: `nul-${seq()}`,
        code: null,
        note: null,
        ratio: null,
        amount: null,
        big: null,
        data: null,
        meta: null,
        day: null,
        at: null,
        local: null,
      }),
      full: () => ({
        name: `full-${seq()}`,
        code: 'mixed Case',
        note: 'n',
        ratio: 0.1,
        amount: '12.3456',
        big: '9007199254740993',
        kind: 'b',
        data: { a: [1, 'x', null], b: { c: true } },
        meta: { z: 1, a: 2 },
        day: '2024-02-29',
        at: '2024-05-01T12:00:00.123Z',
        local: '2024-05-01T12:00:00.5Z',
        flag: true,
      }),
      falsy: () => ({
        name: `fal-${seq()}`,
        code: '',
        ratio: 0,
        amount: '0',
        big: '0',
        data: [],
        meta: {},
        flag: false,
      }),
      negative: () => ({
        name: `neg-${seq()}`,
        ratio: -1e-7,
        amount: '-0.0001',
        big: '-9223372036854775808',
      }),
    };

    for (const [label, body] of Object.entries(bodies)) {
      it(`answers, reads back and audits a ${label} create the same way on both paths`, async () => {
        n++;
        const one = await observed(await create('gizmos', Gizmo, body(), false));
        n++;
        const ordinary = await observed(await create('gizmos', Gizmo, body(), true));
        expect(one).toEqual(ordinary);
      });
    }

    it('answers a check constraint violation the same way on both paths and writes nothing', async () => {
      const before = await counts();
      const send = (ordinary: boolean) => {
        const inert: EntitySubscriberInterface = { listenTo: () => Gizmo };
        if (ordinary) {
          dataSource.subscribers.push(inert);
        }
        n++;
        return t
          .inject({ method: 'POST', url: '/api/gizmos', payload: { name: `chk-${n}`, ratio: 150 } })
          .finally(() => ordinary && dataSource.subscribers.splice(dataSource.subscribers.indexOf(inert), 1));
      };
      const one = await send(false);
      const ordinary = await send(true);
      expect(await counts()).toEqual(before);
      expect({ status: one.statusCode, body: { ...one.json(), requestId: 0 } }).toEqual({
        status: ordinary.statusCode,
        body: { ...ordinary.json(), requestId: 0 },
      });
    });

    it("runs an app subscriber's beforeInsert and afterInsert for its entity", async () => {
      const seen: string[] = [];
      const watcher: EntitySubscriberInterface<Gizmo> = {
        listenTo: () => Gizmo,
        beforeInsert: (event: InsertEvent<Gizmo>) => {
          seen.push('before');
          event.entity.note = 'from subscriber';
        },
        afterInsert: () => void seen.push('after'),
      };
      dataSource.subscribers.push(watcher);
      try {
        n++;
        const res = await t.inject({ method: 'POST', url: '/api/gizmos', payload: { name: `sub-${n}` } });
        expect(res.statusCode).toBe(201);
        expect(res.json<{ note: string }>().note).toBe('from subscriber');
      } finally {
        dataSource.subscribers.splice(dataSource.subscribers.indexOf(watcher), 1);
      }
      expect(seen).toEqual(['before', 'after']);
    });
  });

  describe('visits (arrays: to-many ids of uuid and bigint keys, bigint[], uuid[] and enum[] columns)', () => {
    it('audits a create the same way on both paths, in its one statement', async () => {
      const observed = async (res: LightMyRequestResponse) => {
        expect(res.statusCode).toBe(201);
        const body = res.json<Record<string, unknown>>();
        const entry = await entryOf('visits', body.id);
        const read = await t.inject(`/api/visits/${String(body.id)}`);
        return {
          keys: Object.keys(body),
          labelIds: body.labelIds,
          badgeIds: body.badgeIds,
          kinds: body.kinds,
          read: {
            kinds: read.json<{ kinds: unknown }>().kinds,
            etag: read.headers.etag === res.headers.etag,
          },
          entry: entry.changes,
        };
      };
      const one = await observed(await create('visits', Visit, { name: 'same' }, false));
      await dataSource.query(`UPDATE sample_visit SET name = 'same-one' WHERE name = 'same'`);
      const ordinary = await observed(await create('visits', Visit, { name: 'same' }, true));
      expect(one).toEqual(ordinary);
      expect(one).toMatchObject({
        labelIds: [],
        badgeIds: [],
        kinds: ['a', 'b'], // an array of a database-defined type, answered as the array it is
        read: { kinds: ['a', 'b'], etag: true },
        entry: {
          name: [null, 'same'],
          counts: [null, ['1', '9007199254740993']],
          refs: [null, ['00000000-0000-4000-8000-000000000001']],
          kinds: [null, ['a', 'b']],
        },
      });
    });
  });

  describe('spans (an interval, which SQL cannot render as node-postgres reads it)', () => {
    it('takes the ordinary create, and audits it as JavaScript reads the row', async () => {
      const spy = jest.spyOn(OneStatementCreate.prototype, 'create');
      try {
        const { result: res, corrected } = await corrections(() =>
          t.inject({ method: 'POST', url: '/api/spans', payload: { name: 'span', length: '1 hour' } }),
        );
        expect({ status: res.statusCode, oneStatement: spy.mock.calls.length, corrected }).toEqual({
          status: 201,
          oneStatement: 0,
          corrected: [],
        });
        const body = res.json<{ id: number; length: unknown }>();
        const entry = await entryOf('spans', body.id);
        expect(entry.changes).toEqual({ name: [null, 'span'], length: [null, body.length] });
        expect(body.length).toEqual({ hours: 1 });
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('after its statement committed', () => {
    const visits = async (name: string) =>
      (
        await dataSource.query<{ rows: number; entries: number }[]>(
          `SELECT (SELECT count(*)::int FROM sample_visit WHERE name = $1) AS rows,
                  (SELECT count(*)::int FROM audit_entry e JOIN sample_visit v ON e."recordId" = v.id::text
                    WHERE e.resource = 'visits' AND v.name = $1) AS entries`,
          [name],
        )
      )[0];

    /**
     * Sends a create of `name` while every pooled connection but one is held, lets its INSERT wait on an
     * uncommitted row with the same name, then hands the connection it frees to another waiter for 3.5 s:
     * longer than POOL_WAIT_MS (3 s), so a second statement after the commit could not get a connection.
     */
    async function createUnderLoad(name: string) {
      const pool = serverPool(dataSource)!;
      const held: PoolClient[] = [];
      for (let i = 0; i < 9; i++) {
        held.push(await pool.connect());
      }
      const [blocker] = held;
      let competitor: PoolClient | undefined;
      try {
        await blocker.query('BEGIN');
        await blocker.query(`INSERT INTO sample_visit (name) VALUES ($1)`, [name]);
        const request = t.inject({ method: 'POST', url: '/api/visits', payload: { name } });
        await sleep(500); // the create's INSERT now waits for the blocker's unique key
        const next = pool.connect(); // the next waiter for a connection
        await blocker.query('ROLLBACK');
        competitor = await next;
        await sleep(3_500);
        competitor.release();
        competitor = undefined;
        return await request;
      } finally {
        competitor?.release();
        held.forEach((client) => client.release());
      }
    }

    it('writes the audit entry right in its one statement (no second statement to correct it)', async () => {
      const { result: res, corrected } = await corrections(() =>
        t.inject({ method: 'POST', url: '/api/visits', payload: { name: 'plain' } }),
      );
      expect({ status: res.statusCode, corrected }).toEqual({ status: 201, corrected: [] });
    });

    it('answers 201 for a create whose row is stored while the pool is exhausted', async () => {
      const res = await createUnderLoad('one');
      expect({
        status: res.statusCode,
        stored: await visits('one'),
        type: res.json<{ type?: string }>().type,
      }).toEqual({
        status: 201,
        stored: { rows: 1, entries: 1 },
        type: undefined,
      });
    }, 20_000);

    it('for contrast: the ordinary transactional create answers 201 in the same situation', async () => {
      const inert: EntitySubscriberInterface = { listenTo: () => Visit };
      dataSource.subscribers.push(inert);
      try {
        const res = await createUnderLoad('ordinary');
        expect({ status: res.statusCode, stored: await visits('ordinary') }).toEqual({
          status: 201,
          stored: { rows: 1, entries: 1 },
        });
      } finally {
        dataSource.subscribers.splice(dataSource.subscribers.indexOf(inert), 1);
      }
    }, 20_000);

    it('answers 201 and logs a warning when a needed correction of its entry cannot be written', async () => {
      // An app parser that reads int8 as a number: the database's rendering ("5") then differs from the row's.
      const int8 = types.getTypeParser(types.builtins.INT8, 'text') as (value: string) => unknown;
      types.setTypeParser(types.builtins.INT8, (value: string) => Number(value));
      const query = dataSource.manager.query.bind(dataSource.manager);
      const failing = jest
        .spyOn(dataSource.manager, 'query')
        .mockImplementation((sql: string, params?: Parameters<typeof query>[1]) =>
          sql.startsWith('UPDATE "audit_entry"')
            ? Promise.reject(new Error('timeout exceeded when trying to connect'))
            : query(sql, params),
        );
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const spy = jest.spyOn(OneStatementCreate.prototype, 'create');
      try {
        const res = await t.inject({
          method: 'POST',
          url: '/api/gizmos',
          payload: { name: 'mend', big: '5' },
        });
        expect({ status: res.statusCode, oneStatement: spy.mock.calls.length }).toEqual({
          status: 201,
          oneStatement: 1,
        });
        expect(failing.mock.calls.filter(([sql]) => sql.startsWith('UPDATE "audit_entry"'))).toHaveLength(1);
        const id = res.json<{ id: string; big: unknown }>().id;
        const entry = await entryOf('gizmos', id);
        expect(entry.changes).toMatchObject({ name: [null, 'mend'], big: [null, '5'] }); // the database's
        const [{ entryId }] = await dataSource.query<{ entryId: string }[]>(
          `SELECT id::text AS "entryId" FROM audit_entry WHERE resource = 'gizmos' AND "recordId" = $1`,
          [id],
        );
        const warnings = warn.mock.calls
          .map(([message]) => String(message))
          .filter((message) => message.startsWith('audit entry'));
        expect(warnings).toEqual([expect.stringContaining(`audit entry ${entryId} `)]);
        expect(warnings[0]).toContain('timeout exceeded when trying to connect');
      } finally {
        spy.mockRestore();
        warn.mockRestore();
        failing.mockRestore();
        types.setTypeParser(types.builtins.INT8, int8);
      }
    });
  });
});
