import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataArgsStorage } from 'typeorm';
import { FRAMEWORK_ENTITIES } from 'src/framework/framework-entities';

describe('FRAMEWORK_ENTITIES', () => {
  it('lists every entity declared under src/framework, so no app migration ever creates its table', () => {
    const files = readdirSync(__dirname, { recursive: true, encoding: 'utf8' }).filter((file) =>
      file.endsWith('.entity.ts'),
    );
    // Loading the files registers their @Entity classes with TypeORM, as the app's boot does.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    files.forEach((file) => void require(join(__dirname, file)));
    const declared = getMetadataArgsStorage()
      .tables.filter((table) => table.type === 'regular')
      .map((table) => table.target)
      .filter((target): target is new () => unknown => typeof target === 'function');

    expect(files.length).toBeGreaterThan(5);
    expect(declared.filter((target) => !FRAMEWORK_ENTITIES.includes(target)).map((t) => t.name)).toEqual([]);
  });
});
