import type { EntityMetadata } from 'typeorm';
import { AuditService, AuditedResource } from 'src/framework/audit/audit.service';

describe(AuditService.name, () => {
  const definition: AuditedResource = {
    path: 'readings',
    id: { name: 'id' },
    metadata: { columns: [] } as unknown as EntityMetadata,
    fields: new Map(
      ['id', 'value', 'takenAt', 'note'].map((name) => [name, { name, readable: true }] as const),
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
    const correct = async (changes: unknown): Promise<jest.Mock> => {
      const sut = new AuditService();
      const m = manager();
      await sut.correctChanges(m as never, definition, { id: '1', changes }, row);
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
  });
});
