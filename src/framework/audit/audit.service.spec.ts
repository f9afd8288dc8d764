import { Logger } from '@nestjs/common';
import type { EntityMetadata } from 'typeorm';
import { AuditService, AuditedResource } from 'src/framework/audit/audit.service';

describe(AuditService.name, () => {
  const definition: AuditedResource = {
    path: 'readings',
    id: { name: 'id' },
    metadata: { columns: [] } as unknown as EntityMetadata,
    fields: new Map(
      ['id', 'value', 'takenAt', 'note', 'extra'].map((name) => [name, { name, readable: true }] as const),
    ),
  };
  const manager = () => ({
    query: jest.fn().mockResolvedValue([]),
    connection: { getMetadata: () => ({ tablePath: 'audit_entry' }) },
  });

  describe('correctChanges', () => {
    const row = {
      id: 7,
      value: 0.30000000000000004,
      takenAt: new Date('2026-01-02T03:04:05.678Z'),
      note: null,
    };

    /** correctChanges on an entry the database wrote with `changes`; returns the manager's query mock. */
    const correct = async (changes: unknown, created: Record<string, unknown> = row): Promise<jest.Mock> => {
      const sut = new AuditService();
      const m = manager();
      await sut.correctChanges(m as never, definition, { id: '1', changes }, created);
      return m.query;
    };

    it('leaves an entry whose database-made changes equal diff(null, row), key order aside', async () => {
      const query = await correct({
        takenAt: [null, '2026-01-02T03:04:05.678Z'],
        value: [null, 0.30000000000000004],
      });
      expect(query).not.toHaveBeenCalled();
    });

    it('rewrites an entry the database rendered otherwise (a float printed with 15 digits)', async () => {
      const query = await correct({ takenAt: [null, '2026-01-02T03:04:05.678Z'], value: [null, 0.3] });
      expect(query).toHaveBeenCalledWith('UPDATE "audit_entry" SET changes = $2::jsonb WHERE id = $1', [
        '1',
        JSON.stringify({ value: [null, 0.30000000000000004], takenAt: [null, '2026-01-02T03:04:05.678Z'] }),
      ]);
    });

    it('never throws when the rewrite fails (the entry is committed): it logs the entry id and the error', async () => {
      const sut = new AuditService();
      const m = manager();
      m.query.mockRejectedValue(new Error('timeout exceeded when trying to connect'));
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        await expect(
          sut.correctChanges(m as never, definition, { id: '42', changes: { value: [null, 0.3] } }, row),
        ).resolves.toBeUndefined();
        expect(m.query).toHaveBeenCalledTimes(1);
        expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^audit entry 42 .*timeout exceeded/));
      } finally {
        warn.mockRestore();
      }
    });

    describe('on a JSON column', () => {
      const withJson = { id: 8, extra: { b: [1, { d: 2, c: 'x' }], a: null } };

      it('leaves an entry equal but for the order of nested keys', async () => {
        const query = await correct({ extra: [null, { a: null, b: [1, { c: 'x', d: 2 }] }] }, withJson);
        expect(query).not.toHaveBeenCalled();
      });

      it.each([
        ['an array in another order', { extra: [null, { a: null, b: [{ d: 2, c: 'x' }, 1] }] }],
        ['a nested key more', { extra: [null, { a: null, b: [1, { d: 2, c: 'x', e: 0 }] }] }],
        ['a nested key fewer', { extra: [null, { a: null, b: [1, { d: 2 }] }] }],
        ['a field more', { extra: [null, withJson.extra], note: [null, 'n'] }],
        ['an object for an array', { extra: [null, { a: null, b: { 0: 1, 1: { d: 2, c: 'x' } } }] }],
        ['a string for a number', { extra: [null, { a: null, b: ['1', { d: 2, c: 'x' }] }] }],
      ])('rewrites an entry with %s', async (_case, changes) => {
        const query = await correct(changes, withJson);
        expect(query).toHaveBeenCalledWith(expect.stringMatching(/^UPDATE /), [
          '1',
          JSON.stringify({ extra: [null, withJson.extra] }),
        ]);
      });
    });
  });
});
